"""The model pack's registry: idempotent, atomic installs and name resolution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from babelrag.agents.modelpack import registry
from babelrag.agents.modelpack.registry import MANIFEST, PACK_FORMAT, ModelPack, resolve_model
from babelrag.agents.modelpack.wheels import WheelSpec
from babelrag.stores.errors import ModelNotInstalledError, ModelPackError

pytestmark = pytest.mark.unit


def _fake_pack(monkeypatch, builder) -> None:
    model = registry.PackModel(
        name="babelrag/fake",
        role="embedder",
        description="",
        upstream="x/fake",
        module=__name__,
        wheels_attr="FAKE_WHEELS",
        builder_attr="fake_builder",
        size_mb=1,
    )
    monkeypatch.setitem(registry.PACK, model.name, model)
    monkeypatch.setitem(globals(), "fake_builder", builder)


FAKE_WHEELS: tuple[WheelSpec, ...] = ()


def test_install_is_idempotent_and_a_failed_build_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    calls = []

    def failing(wheels_, out: Path, progress) -> dict:
        (out / "half-written.bin").write_bytes(b"x")
        raise ModelPackError("conversion failed")

    _fake_pack(monkeypatch, failing)
    pack = ModelPack(tmp_path)
    with pytest.raises(ModelPackError):
        pack.install(["fake"])
    assert not pack.status("babelrag/fake").installed
    assert not list((tmp_path / "models").glob(".partial-*")), "a half-written model must not stay around"
    with pytest.raises(ModelNotInstalledError, match="models install"):
        resolve_model("babelrag/fake", tmp_path)

    def working(wheels_, out: Path, progress) -> dict:
        calls.append(out)
        (out / "weights.bin").write_bytes(b"ok")
        return {"check": "passed"}

    _fake_pack(monkeypatch, working)
    (first,) = pack.install(["babelrag/fake"])
    assert first.action == "installed" and len(calls) == 1
    manifest = json.loads((first.path / MANIFEST).read_text())
    assert manifest["pack_format"] == PACK_FORMAT and manifest["check"] == "passed"
    (second,) = pack.install(["fake"])
    assert second.action == "already installed" and len(calls) == 1
    assert resolve_model("babelrag/fake", tmp_path) == str(first.path)
    pack.install(["fake"], force=True)
    assert len(calls) == 2 and (first.path / "weights.bin").exists()


def test_folder_without_manifest_is_not_installed(tmp_path: Path, monkeypatch) -> None:
    _fake_pack(monkeypatch, lambda *a: {})
    (tmp_path / "models" / "fake").mkdir(parents=True)
    assert not ModelPack(tmp_path).status("fake").installed


def test_resolve_model_passes_hub_ids_and_local_folders(tmp_path: Path) -> None:
    assert resolve_model("intfloat/multilingual-e5-small", tmp_path) == "intfloat/multilingual-e5-small"
    (tmp_path / "my-model").mkdir()
    assert resolve_model(str(tmp_path / "my-model"), tmp_path) == str((tmp_path / "my-model").resolve())
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelNotInstalledError, match="is a file"):
        resolve_model(str(tmp_path / "file"), tmp_path)


def test_unknown_pack_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ModelPackError) as info:
        ModelPack(tmp_path).install(["babelrag/nope"])
    assert "multilingual-e5-small" in (info.value.hint or "")
