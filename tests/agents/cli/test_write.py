"""The interactive review loop of ``babelrag write -i``."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelrag.agents.cli.write import _session
from babelrag.stores.fakes import KeywordEmbeddings
from tests.agents.test_writer import make_writer
from tests.store_cases import make_ingestor, write_kb

pytestmark = pytest.mark.unit


def test_interactive_write_session_rejects_runs_another_pass_and_saves(tmp_path: Path, monkeypatch) -> None:
    ingestor = make_ingestor(tmp_path, KeywordEmbeddings(dimension=128))
    ingestor.ingest([write_kb(tmp_path)])
    writer = make_writer(
        ingestor.store,
        [
            "Green tea tastes best with water at 75 to 80 degrees Celsius.",
            "Boiling water makes green tea bitter because it extracts too many tannins.",
        ],
    )
    result = writer.expand("I like green tea. It is often bitter.", factor=2.0)
    saved = tmp_path / "out.md"
    commands = iter(["r 1", "p", "bogus", "s", f"s {saved}", "q"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(commands))
    result = _session(writer, result, None, factor=2.0, sections=None)
    assert [a.accepted for a in result.additions] == [False, True], "(1) rejected, the new pass kept"
    text = saved.read_text(encoding="utf-8")
    assert text.startswith("I like green tea. It is often bitter.")
    assert "75 to 80 degrees" not in text and "tannins[1]" in text
