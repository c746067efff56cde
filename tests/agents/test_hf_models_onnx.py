"""The onnx-int8 embedding backend without a model: choosing it, the CPU preset, the cache folder,
and the atomic build (a fake exporter stands in for torch export + quantization)."""

from __future__ import annotations

import fcntl
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from babelrag.agents import hf_models
from babelrag.agents.config import load_settings
from babelrag.agents.hf_models import (
    INT8_WEIGHTS,
    ONNX_MANIFEST,
    build_onnx_int8,
    int8_target,
    load_sentence_transformer,
    onnx_int8_folder,
)
from babelrag.agents.runtime import Runtime
from babelrag.stores.errors import ConfigError, ModelError
from babelrag.stores.progress import NullProgress

pytestmark = pytest.mark.unit


class RecordingProgress(NullProgress):
    def __init__(self) -> None:
        self.messages: list[str] = []

    def log(self, message: str) -> None:
        self.messages.append(message)


class FakeExporter:
    """Writes a graph file in two steps (so a failure in between leaves a half-written folder)."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls = 0

    def __call__(self, location: str, out_dir: Path, target: str, progress: Any) -> dict[str, Any]:
        self.calls += 1
        (out_dir / "model.onnx").write_bytes(b"half")
        if self.fail:
            raise ModelError("export failed")
        (out_dir / "model.onnx").write_bytes(b"graph")
        return {"file": "model.onnx", "target": target, "source": location}


def model_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "models" / "multilingual-e5-small"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights")
    return folder


@pytest.mark.parametrize(
    ("flags", "machine", "target"),
    [
        ({"avx2", "avx512f", "avx512_vnni", "avx_vnni"}, "x86_64", "avx512_vnni"),
        ({"avx2", "avx_vnni"}, "x86_64", "avx_vnni"),
        ({"avx2", "avx512f", "avx512bw"}, "x86_64", "avx2"),  # no VNNI: u8 weights, no saturation
        (set(), "x86_64", "avx2"),
        (set(), "aarch64", "arm64"),
        (set(), "arm64", "arm64"),
    ],
)
def test_the_quantization_preset_follows_the_cpu(flags: set[str], machine: str, target: str) -> None:
    assert int8_target(flags, machine) == target
    assert target in INT8_WEIGHTS


def test_only_cpus_that_multiply_u8_by_s8_exactly_get_signed_weights() -> None:
    assert INT8_WEIGHTS == {"avx512_vnni": "QInt8", "avx_vnni": "QInt8", "arm64": "QInt8", "avx2": "QUInt8"}


def test_the_cache_folder_changes_with_the_model_files_and_the_preset(tmp_path: Path) -> None:
    source, cache = model_folder(tmp_path), tmp_path / "cache"
    first = onnx_int8_folder(str(source), cache, "avx512_vnni")
    assert first == onnx_int8_folder(str(source), cache, "avx512_vnni")
    assert first.parent == cache / "onnx" and first.name.startswith("multilingual-e5-small-avx512_vnni-")
    assert onnx_int8_folder(str(source), cache, "avx2") != first
    (source / "model.safetensors").write_bytes(b"other weights")
    assert onnx_int8_folder(str(source), cache, "avx512_vnni") != first, "a rebuilt model is not stale"
    hub = onnx_int8_folder("intfloat/multilingual-e5-small", cache, "avx2")
    assert hub.parent == cache / "onnx" and hub.name.startswith("intfloat-multilingual-e5-small-avx2-")


def test_a_build_is_renamed_into_place_complete_and_used_from_then_on(tmp_path: Path) -> None:
    folder = tmp_path / "onnx" / "e5-avx2-abc"
    exporter, progress = FakeExporter(), RecordingProgress()
    build_onnx_int8("model", folder, "avx2", progress, exporter=exporter)
    assert (folder / "model.onnx").read_bytes() == b"graph"
    assert json.loads((folder / ONNX_MANIFEST).read_text())["target"] == "avx2"
    assert not list(folder.parent.glob(".partial-*"))
    assert any("building the int8 ONNX embedder" in m and str(folder) in m for m in progress.messages)
    build_onnx_int8("model", folder, "avx2", progress, exporter=exporter)
    assert exporter.calls == 1


def test_an_interrupted_build_leaves_nothing_behind(tmp_path: Path) -> None:
    folder = tmp_path / "onnx" / "e5-avx2-abc"
    with pytest.raises(ModelError, match="export failed"):
        build_onnx_int8("model", folder, "avx2", NullProgress(), exporter=FakeExporter(fail=True))
    assert not folder.exists() and not list(folder.parent.glob(".partial-*"))
    build_onnx_int8("model", folder, "avx2", NullProgress(), exporter=FakeExporter())
    assert (folder / ONNX_MANIFEST).exists()


def test_leftovers_of_a_crash_are_replaced(tmp_path: Path) -> None:
    folder = tmp_path / "onnx" / "e5-avx2-abc"
    partial = folder.parent / f".partial-{folder.name}"
    partial.mkdir(parents=True)
    (partial / "model.onnx").write_bytes(b"half")
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"half")  # a folder without a manifest is not a build
    build_onnx_int8("model", folder, "avx2", NullProgress(), exporter=FakeExporter())
    assert (folder / "model.onnx").read_bytes() == b"graph" and not partial.exists()


def test_a_second_builder_waits_for_the_first_and_uses_its_graph(tmp_path: Path) -> None:
    folder = tmp_path / "onnx" / "e5-avx2-abc"
    folder.parent.mkdir(parents=True)
    exporter, progress = FakeExporter(), RecordingProgress()
    with (folder.parent / f".{folder.name}.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # the first builder
        waiter = threading.Thread(
            target=build_onnx_int8, args=("model", folder, "avx2", progress), kwargs={"exporter": exporter}
        )
        waiter.start()
        waiter.join(timeout=0.5)
        assert waiter.is_alive(), "the second builder must wait for the lock"
        FakeExporter()("model", folder.parent, "avx2", None)  # what the first builder renames into place
        folder.mkdir()
        (folder / ONNX_MANIFEST).write_text("{}")
    waiter.join(timeout=10)
    assert not waiter.is_alive() and exporter.calls == 0
    assert any("waiting" in m for m in progress.messages)


def test_the_backend_is_chosen_by_name_and_int8_runs_on_the_cpu_only(tmp_path: Path, monkeypatch) -> None:
    loaded: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(
        hf_models, "_sentence_transformer", lambda loc, **kw: loaded.append((loc, kw)) or "st"
    )
    assert load_sentence_transformer("some/model", "cpu") == "st"
    assert loaded == [("some/model", {"device": "cpu"})]
    with pytest.raises(ModelError, match="runs on the CPU") as info:
        load_sentence_transformer("some/model", "cuda", backend="onnx-int8", cache_dir=tmp_path)
    assert "embedding_backend = torch" in (info.value.hint or "")
    with pytest.raises(ModelError, match="unknown embedding backend 'fp16'"):
        load_sentence_transformer("some/model", "cpu", backend="fp16")


def test_int8_builds_once_into_the_cache_then_loads_from_it(tmp_path: Path, monkeypatch) -> None:
    exporter = FakeExporter()
    monkeypatch.setattr(hf_models, "export_onnx_int8", exporter)
    monkeypatch.setattr(hf_models, "open_onnx_encoder", lambda folder: ("encoder", folder))
    source, cache = model_folder(tmp_path), tmp_path / "cache"
    first = load_sentence_transformer(str(source), "cpu", backend="onnx-int8", cache_dir=cache)
    again = load_sentence_transformer(str(source), "cpu", backend="onnx-int8", cache_dir=cache)
    assert first == again == ("encoder", onnx_int8_folder(str(source), cache, int8_target()))
    assert exporter.calls == 1


def test_the_runtime_loads_the_configured_backend_under_its_own_model_id(tmp_path: Path, monkeypatch) -> None:
    from babelrag.agents import runtime as runtime_module
    from tests.stores.test_onnx_encoder import FakeSession, encoder

    calls: list[dict[str, Any]] = []

    def fake_load(location: str, device: str, **kwargs: Any) -> Any:
        calls.append({"location": location, "device": device, **kwargs})
        return encoder(FakeSession(), max_seq_length=64)

    monkeypatch.setattr(runtime_module, "load_sentence_transformer", fake_load)
    monkeypatch.setattr(Runtime, "resolve", lambda self, spec: str(tmp_path / "e5"))
    ids = {}
    for backend in ("torch", "onnx-int8"):
        settings = load_settings(home=tmp_path / backend, cache_dir=tmp_path / "cache")
        settings = settings.model_copy(
            update={"models": settings.models.model_copy(update={"embedding_backend": backend})}
        )
        ids[backend] = Runtime(settings).embedder.model_id
        assert calls[-1]["backend"] == backend and calls[-1]["cache_dir"] == tmp_path / "cache"
    assert ids == {
        "torch": "babelrag/multilingual-e5-small",
        "onnx-int8": "babelrag/multilingual-e5-small@onnx-int8",
    }, "int8 vectors do not mix with fp32 ones, so a knowledge base must tell them apart"


def test_the_backend_setting_defaults_and_is_checked(tmp_path: Path, monkeypatch) -> None:
    models = load_settings(home=tmp_path).models
    assert models.embedding_backend == "auto" and models.backend == "onnx-int8"  # e5 measured in int8
    assert models.model_copy(update={"embedder": "google/embeddinggemma-300m"}).backend == "torch"
    assert models.model_copy(update={"device": "cuda:0"}).backend == "torch"
    monkeypatch.setenv("BABELRAG_MODELS__EMBEDDING_BACKEND", "torch")
    assert load_settings(home=tmp_path).models.backend == "torch"
    monkeypatch.setenv("BABELRAG_MODELS__EMBEDDING_BACKEND", "onnx-int8")
    assert load_settings(home=tmp_path).models.embedding_backend == "onnx-int8"
    monkeypatch.setenv("BABELRAG_MODELS__EMBEDDING_BACKEND", "fp16")
    with pytest.raises(ConfigError, match="embedding_backend"):
        load_settings(home=tmp_path)
