"""Saved chat sessions: atomic writes, resume, clear errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from babelrag.stores.errors import StoreError
from babelrag.stores.sessions import ChatSession, SessionStore, Turn

pytestmark = pytest.mark.unit


def test_sessions_save_resume_and_survive_a_crash_mid_write(tmp_path: Path, monkeypatch) -> None:
    sessions = SessionStore(tmp_path / "sessions")
    session = sessions.new("kb1")
    session.turns.append(Turn("user", "Hallo {name}", "de"))
    sessions.save(session)
    assert sessions.load(session.id).turns[0].content == "Hallo {name}"

    session.turns.append(Turn("assistant", "second version", "de"))

    def crash(fd: int) -> None:
        raise OSError("disk pulled out")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError):
        sessions.save(session)
    monkeypatch.undo()
    reloaded = sessions.load(session.id)
    assert len(reloaded.turns) == 1, "the previous version is intact"
    assert not list((tmp_path / "sessions").glob("*.tmp")), "no temporary file is left behind"
    assert [s.id for s in sessions.list()] == [session.id]


def test_damaged_or_unknown_sessions_are_clear_errors(tmp_path: Path) -> None:
    sessions = SessionStore(tmp_path)
    with pytest.raises(StoreError, match="no saved session"):
        sessions.load("nope")
    with pytest.raises(StoreError, match="invalid session id"):
        sessions.load("../etc/passwd")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(StoreError, match="damaged"):
        sessions.load("bad")
    assert json.loads(ChatSession(id="x", kb="k").to_json())["id"] == "x"
