"""Regression tests for defects a new user met at the command line (issue 15, point 5).

The CLI runs in this process through its real entry point (``main``: message and exit status
instead of a traceback), with the keyword fake instead of the embedding model.
"""

from __future__ import annotations

import errno
import json
import sys
from functools import cached_property
from pathlib import Path

import pytest

from babelrag.agents.cli import main
from babelrag.agents.runtime import Runtime
from babelrag.stores.fakes import KeywordEmbeddings

pytestmark = pytest.mark.unit


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("BABELRAG_HOME", str(home))
    prop = cached_property(lambda self: KeywordEmbeddings(dimension=32, model_id="fake/keywords"))
    prop.__set_name__(Runtime, "embedder")
    monkeypatch.setattr(Runtime, "embedder", prop)
    return home


def cli(capsys, monkeypatch, *args: str) -> tuple[int, str, str]:
    """Exit status, stdout and stderr (stderr with rich's line wrapping undone)."""
    monkeypatch.setattr(sys, "argv", ["babelrag", "--quiet", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, " ".join(captured.err.split())


def write_files(folder: Path, n: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"f{i}.txt").write_text(f"Note {i} about green tea and rivers.", encoding="utf-8")
    return folder


def test_a_bad_front_matter_key_no_longer_stops_the_batch(home, tmp_path, capsys, monkeypatch) -> None:
    folder = write_files(tmp_path / "kb", 40)
    (folder / "a.md").write_text('---\n$schema: x\n"#tags": [a]\n"": y\n---\nTea.\n', encoding="utf-8")
    code, out, _ = cli(capsys, monkeypatch, "ingest", str(folder), "--kb", "k", "--json")
    report = json.loads(out)
    assert code == 0 and len(report["added"]) == 41 and not report["failed"]


def test_a_failed_first_ingest_leaves_no_empty_knowledge_base(home, tmp_path, capsys, monkeypatch) -> None:
    (tmp_path / "x.txt").write_bytes(b"\x00\x01\x02 binary")
    code, _, err = cli(capsys, monkeypatch, "ingest", str(tmp_path / "x.txt"), "--kb", "k")
    assert code == 1 and "binary file" in err
    assert cli(capsys, monkeypatch, "kb", "list", "--json")[1].strip() == "{}"


def test_ctrl_c_during_ingest_says_what_was_kept_and_that_a_rerun_resumes(
    home, tmp_path, capsys, monkeypatch
) -> None:
    from babelrag.stores.knowledge_store import KnowledgeStore

    folder = write_files(tmp_path / "kb", 3)
    writes = 0
    original = KnowledgeStore.upsert

    def upsert(self, *args):
        nonlocal writes
        writes += 1
        if writes == 2:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(KnowledgeStore, "upsert", upsert)
    code, _, err = cli(capsys, monkeypatch, "ingest", str(folder), "--kb", "k")
    assert code == 130
    assert "interrupted: 1 files were written to knowledge base k and are kept" in err
    assert "Run the same command again to resume" in err
    monkeypatch.setattr(KnowledgeStore, "upsert", original)
    code, out, _ = cli(capsys, monkeypatch, "ingest", str(folder), "--kb", "k", "--json")
    report = json.loads(out)
    assert code == 0 and len(report["unchanged"]) == 1 and len(report["added"]) == 2


def test_ctrl_c_elsewhere_says_interrupted(home, capsys, monkeypatch) -> None:
    from babelrag.stores.catalog import Catalog

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Catalog, "list", interrupted)
    code, _, err = cli(capsys, monkeypatch, "kb", "list")
    assert code == 130 and err == "interrupted"


def test_a_damaged_store_is_a_message(home, tmp_path, capsys, monkeypatch) -> None:
    cli(capsys, monkeypatch, "ingest", str(write_files(tmp_path / "kb")), "--kb", "k")
    (home / "chroma" / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    code, _, err = cli(capsys, monkeypatch, "kb", "list")
    assert code == 1 and err.startswith("error: the knowledge store is damaged") and "kb check" in err


def test_a_full_disk_is_a_message(home, tmp_path, capsys, monkeypatch) -> None:
    from babelrag.stores.knowledge_store import KnowledgeStore

    def full(self, *args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(KnowledgeStore, "upsert", full)
    code, _, err = cli(capsys, monkeypatch, "ingest", str(write_files(tmp_path / "kb")), "--kb", "k")
    assert code == 1 and "error: the disk is full" in err and "free some space" in err


def test_chroma_full_disk_and_lock_errors_are_recognised() -> None:
    from chromadb.errors import InternalError

    from babelrag.stores.failures import as_user_error

    assert "disk is full" in as_user_error(InternalError("database or disk is full")).message
    assert "busy" in as_user_error(InternalError("error returned from database: database is locked")).message
    assert as_user_error(ValueError("a bug")) is None


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("BABELRAG_SEARCH", "abc", "environment variable BABELRAG_SEARCH is not valid"),
        ("BABELRAG_SEARCH__K", "abc", "search.k: Input should be a valid integer"),
        ("BABELRAG_KB", "../x", "kb: Value error"),
    ],
)
def test_bad_environment_variables_are_messages(home, capsys, monkeypatch, variable, value, expected) -> None:
    monkeypatch.setenv(variable, value)
    code, _, err = cli(capsys, monkeypatch, "kb", "list")
    assert code == 1 and expected in err


def test_an_empty_home_variable_is_unset_not_the_current_folder(tmp_path, monkeypatch) -> None:
    from babelrag.agents.config import default_home, load_settings

    monkeypatch.setenv("BABELRAG_HOME", "")
    monkeypatch.setenv("BABELRAG_KB", "")
    settings = load_settings()
    assert settings.home == default_home() != Path() and settings.kb == "default"


def test_damaged_session_files_are_skipped_with_a_note(home, capsys, monkeypatch) -> None:
    sessions = home / "sessions"
    sessions.mkdir(parents=True)
    for name, text in {
        "a": "[]",
        "b": "null",
        "c": '{"id": "c", "kb": "x", "created": "yesterday", "turns": []}',
        "d": '{"id": "d", "kb": "x", "created": 1.0, "turns": [{"role": "user"}]}',
        "e": '{"id": "e", "kb": "x", "created": 5.0, "turns": []}',
    }.items():
        (sessions / f"{name}.json").write_text(text, encoding="utf-8")
    code, out, err = cli(capsys, monkeypatch, "chat", "--list")
    assert code == 0 and out.startswith("e  kb=x  0 turns")
    assert err.count("skipped") == 4 and "'created' has the wrong type (str)" in err
    code, _, err = cli(capsys, monkeypatch, "chat", "--session", "a")
    assert code == 1 and "is damaged: expected a JSON object, got list" in err


@pytest.mark.parametrize(("command", "text"), [("search", ""), ("search", " \n "), ("ask", "   ")])
def test_blank_queries_are_refused_before_any_model_runs(home, capsys, monkeypatch, command, text) -> None:
    code, out, err = cli(capsys, monkeypatch, command, text)
    assert code == 1 and out == "" and "is empty" in err


def test_the_query_length_limit_is_configurable(home, capsys, monkeypatch) -> None:
    code, _, err = cli(capsys, monkeypatch, "search", "tea " * 1200)
    assert code == 1 and "4799 characters long; the limit is 4000" in err
    monkeypatch.setenv("BABELRAG_SEARCH__MAX_QUERY_CHARS", "10")
    code, _, err = cli(capsys, monkeypatch, "search", "green tea leaves")
    assert code == 1 and "the limit is 10" in err


class TestWrite:
    def test_a_folder_as_draft_is_a_message(self, home, tmp_path, capsys, monkeypatch) -> None:
        code, _, err = cli(capsys, monkeypatch, "write", str(tmp_path))
        assert code == 1 and "is a folder; give the draft's file" in err

    @pytest.mark.parametrize("target", ["missing/out.md", "."])
    def test_an_unwritable_output_fails_before_generating(self, home, tmp_path, capsys, monkeypatch, target):
        (tmp_path / "draft.md").write_text("I like tea.", encoding="utf-8")
        monkeypatch.setattr(Runtime, "writing_assistant", lambda self: pytest.fail("generation started"))
        draft, output = str(tmp_path / "draft.md"), str(tmp_path / target)
        code, _, err = cli(capsys, monkeypatch, "write", draft, "-o", output)
        assert code == 1 and "-o" in err

    def test_text_that_cannot_be_saved_is_kept_and_its_place_said(self, tmp_path) -> None:
        from babelrag.agents.cli.write import save_text
        from babelrag.stores.errors import StoreError

        with pytest.raises(StoreError) as caught:
            save_text("minutes of generated text", tmp_path / "gone" / "out.md", tmp_path / "recovered")
        (kept,) = (tmp_path / "recovered").glob("write-*.md")
        assert kept.read_text(encoding="utf-8") == "minutes of generated text"
        assert f"the text was saved to {kept}" in caught.value.message

    def test_s_path_that_fails_keeps_the_session_going(self, tmp_path, monkeypatch, capsys) -> None:
        from babelrag.agents.cli.write import _session
        from tests.agents.test_writer import make_writer
        from tests.store_cases import make_ingestor, write_kb

        ingestor = make_ingestor(tmp_path, KeywordEmbeddings(dimension=128))
        ingestor.ingest([write_kb(tmp_path)])
        writer = make_writer(ingestor.store, ["Green tea tastes best at 80 degrees Celsius."])
        result = writer.expand("I like green tea.", factor=2.0)
        good = tmp_path / "good.md"
        commands = iter([f"s {tmp_path / 'no' / 'such' / 'dir.md'}", f"s {good}", "q"])
        monkeypatch.setattr("builtins.input", lambda prompt="": next(commands))
        _session(writer, result, None, factor=2.0, sections=None, recovery=tmp_path / "recovered")
        out = " ".join(capsys.readouterr().out.split())
        assert "cannot write" in out and "the text was saved to" in out and f"saved {good}" in out
        assert good.read_text(encoding="utf-8").startswith("I like green tea.")
        assert len(list((tmp_path / "recovered").glob("write-*.md"))) == 1
