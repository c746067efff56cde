"""``babelrag kb check | export | import`` through the real entry point, with the keyword fake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.agents.cli.test_defects_cli import cli, home, write_files

pytestmark = pytest.mark.unit
__all__ = ["home"]  # the fixture, imported for its use here


def test_check_export_import_and_repair(home, tmp_path: Path, capsys, monkeypatch) -> None:
    folder = write_files(tmp_path / "kb", 4)
    assert cli(capsys, monkeypatch, "ingest", str(folder), "--kb", "a")[0] == 0
    code, out, _ = cli(capsys, monkeypatch, "kb", "check", "--kb", "a", "--json")
    assert code == 0 and json.loads(out)["ok"] is True

    backup = tmp_path / "a.jsonl"
    code, out, _ = cli(capsys, monkeypatch, "kb", "export", str(backup), "--kb", "a", "--json")
    exported = json.loads(out)["chunks"]  # every stored entry: chunks and their heading entries
    assert code == 0 and exported >= 4 and backup.exists()
    code, out, _ = cli(capsys, monkeypatch, "kb", "import", str(backup), "--kb", "b", "--json")
    assert code == 0 and json.loads(out)["chunks"] == exported
    assert json.loads(cli(capsys, monkeypatch, "kb", "list", "--json")[1]) == {"a": 4, "b": 4}

    from babelrag.agents.config import load_settings
    from babelrag.agents.runtime import Runtime

    store = Runtime(load_settings(home=home)).catalog().open("b")
    store.collection.add(ids=["orphan"], documents=["x"], metadatas=[{"y": 1}], embeddings=[[0.5] * 32])
    code, out, err = cli(capsys, monkeypatch, "kb", "check", "--kb", "b")
    assert code == 1 and "1 orphaned chunks" in " ".join(out.split()) and "--repair" in err
    code, out, _ = cli(capsys, monkeypatch, "kb", "check", "--kb", "b", "--repair")
    assert code == 0 and "sound now" in out


def test_import_into_a_knowledge_base_of_another_embedder(home, tmp_path: Path, capsys, monkeypatch) -> None:
    folder = write_files(tmp_path / "kb", 2)
    cli(capsys, monkeypatch, "ingest", str(folder), "--kb", "a")
    backup = tmp_path / "a.jsonl"
    cli(capsys, monkeypatch, "kb", "export", str(backup), "--kb", "a")
    header, *lines = backup.read_text(encoding="utf-8").splitlines()
    foreign = json.loads(header) | {"embedder_id": "fake/other"}
    (tmp_path / "other.jsonl").write_text("\n".join([json.dumps(foreign), *lines]), encoding="utf-8")
    code, _, err = cli(capsys, monkeypatch, "kb", "import", str(tmp_path / "other.jsonl"), "--kb", "a")
    assert code == 1 and "uses another embedding model than the export ('fake/other')" in err
    assert "--reembed" in err
    code, out, _ = cli(
        capsys, monkeypatch, "kb", "import", str(tmp_path / "other.jsonl"), "--kb", "a", "--reembed"
    )
    assert code == 0 and "re-embedded with fake/keywords" in out


def test_import_of_a_file_that_is_no_export(home, tmp_path: Path, capsys, monkeypatch) -> None:
    (tmp_path / "x.jsonl").write_text('{"text": "a document, not an export"}\n', encoding="utf-8")
    code, _, err = cli(capsys, monkeypatch, "kb", "import", str(tmp_path / "x.jsonl"))
    assert code == 1 and "is not a babelrag knowledge-base export" in err
