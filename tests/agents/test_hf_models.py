"""Choosing the generator engine and the thread count, without loading a model."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelrag.agents import hf_models
from babelrag.agents.hf_models import choose_engine, gguf_file, physical_cores
from babelrag.stores.errors import ModelError

pytestmark = pytest.mark.unit


def test_auto_runs_a_gguf_on_llama_cpp_and_everything_else_on_transformers(tmp_path: Path) -> None:
    gguf_dir = tmp_path / "gguf"
    gguf_dir.mkdir()
    (gguf_dir / "model.gguf").write_bytes(b"GGUF")
    hf_dir = tmp_path / "hf"
    hf_dir.mkdir()
    (hf_dir / "config.json").write_text("{}")
    assert gguf_file(str(gguf_dir)) == gguf_dir / "model.gguf"
    assert choose_engine("auto", str(gguf_dir)) == "llama.cpp"
    assert choose_engine("auto", str(gguf_dir / "model.gguf")) == "llama.cpp"
    assert choose_engine("auto", str(hf_dir)) == "transformers"
    assert choose_engine("auto", "Qwen/Qwen2.5-1.5B-Instruct") == "transformers", "a hub id"


def test_a_wrong_engine_for_the_model_is_an_error_with_a_hint(tmp_path: Path) -> None:
    (tmp_path / "model.gguf").write_bytes(b"GGUF")
    with pytest.raises(ModelError, match="needs a GGUF file"):
        choose_engine("llama.cpp", "Qwen/Qwen2.5-1.5B-Instruct")
    with pytest.raises(ModelError, match="does not run"):
        choose_engine("transformers", str(tmp_path))
    (tmp_path / "other.gguf").write_bytes(b"GGUF")
    with pytest.raises(ModelError, match="several GGUF files"):
        gguf_file(str(tmp_path))


def test_physical_cores_count_cores_not_hardware_threads(tmp_path: Path, monkeypatch) -> None:
    block = "processor\t: {n}\nphysical id\t: 0\ncore id\t\t: {core}\n\n"
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("".join(block.format(n=n, core=n // 2) for n in range(8)))  # 4 cores, SMT 2
    real_path = hf_models.Path
    monkeypatch.setattr(hf_models, "Path", lambda p: cpuinfo if p == "/proc/cpuinfo" else real_path(p))
    assert physical_cores() == 4
