"""Chat sessions saved as JSON files, written atomically.

A session is rewritten whole after every turn: to a temporary file in the same folder, flushed
and fsync'ed, then renamed over the old one. A crash mid-write leaves the previous version, never
a truncated file.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from babelrag.stores.errors import StoreError

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass
class Turn:
    role: str  # "user" | "assistant"
    content: str
    lang: str
    standalone: str | None = None  # the rewritten question used for retrieval (user turns)
    sources: list[dict[str, Any]] = field(default_factory=list)  # cited passages (assistant turns)


@dataclass
class ChatSession:
    id: str
    kb: str
    created: float = field(default_factory=time.time)
    lang: str | None = None  # forced answer language (/lang), None = follow each turn
    turns: list[Turn] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> ChatSession:
        """A session from its file; a ``ValueError`` saying what is wrong when it is not one."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        _expect(data, "id", str)
        _expect(data, "kb", str)
        _expect(data, "created", int | float, required=False)
        if isinstance(data.get("created"), bool) or not math.isfinite(data.get("created", 0.0)):
            raise ValueError(f"'created' must be a time in seconds, got {data['created']!r}")
        _expect(data, "lang", str | None, required=False)
        _expect(data, "turns", list, required=False)
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")
        turns = []
        for number, turn in enumerate(data.get("turns", []), start=1):
            if not isinstance(turn, dict) or set(turn) - {f.name for f in fields(Turn)}:
                raise ValueError(f"turn {number} is not a turn object")
            for name, kind in (("role", str), ("content", str), ("lang", str)):
                _expect(turn, name, kind, where=f"turn {number}: ")
            _expect(turn, "standalone", str | None, required=False, where=f"turn {number}: ")
            _expect(turn, "sources", list, required=False, where=f"turn {number}: ")
            turns.append(Turn(**turn))
        return cls(**{**data, "turns": turns})


def _expect(data: dict[str, Any], name: str, kind: Any, *, required: bool = True, where: str = "") -> None:
    if name not in data:
        if required:
            raise ValueError(f"{where}no {name!r}")
        return
    if not isinstance(data[name], kind):
        raise ValueError(f"{where}{name!r} has the wrong type ({type(data[name]).__name__})")


class SessionStore:
    """Sessions under ``<home>/sessions/<id>.json``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def new(self, kb: str) -> ChatSession:
        return ChatSession(id=time.strftime("%Y%m%d-") + secrets.token_hex(3), kb=kb)

    def path(self, session_id: str) -> Path:
        if not _ID.match(session_id):
            raise StoreError(f"invalid session id {session_id!r}", hint="see `babelrag chat --list`")
        return self.root / f"{session_id}.json"

    def load(self, session_id: str) -> ChatSession:
        path = self.path(session_id)
        try:
            return ChatSession.from_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StoreError(
                f"no saved session {session_id!r} in {self.root}", hint="see `babelrag chat --list`"
            ) from None
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            raise StoreError(f"session file {path} is damaged: {exc}") from None
        except OSError as exc:
            raise StoreError(f"cannot read session file {path}: {exc.strerror or exc}") from None

    def save(self, session: ChatSession) -> Path:
        path = self.path(session.id)
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{session.id}-", suffix=".tmp", dir=self.root)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(session.to_json())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def list(self) -> list[ChatSession]:
        return self.scan()[0]

    def scan(self) -> tuple[list[ChatSession], list[tuple[Path, str]]]:
        """Saved sessions, newest first, and the files that are not sessions, with why."""
        sessions, damaged = [], []
        for path in sorted(self.root.glob("*.json")):
            try:
                sessions.append(ChatSession.from_json(path.read_text(encoding="utf-8")))
            except (ValueError, TypeError, KeyError, RecursionError) as exc:
                damaged.append((path, str(exc) or type(exc).__name__))
            except OSError as exc:
                damaged.append((path, f"cannot be read ({exc.strerror or exc})"))
        return sorted(sessions, key=lambda s: s.created, reverse=True), damaged
