"""Chat sessions saved as JSON files, written atomically.

A session is rewritten whole after every turn: to a temporary file in the same folder, flushed
and fsync'ed, then renamed over the old one. A crash mid-write leaves the previous version, never
a truncated file.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass, field
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
        data = json.loads(text)
        data["turns"] = [Turn(**t) for t in data.get("turns", [])]
        return cls(**data)


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
        except (ValueError, TypeError, KeyError) as exc:
            raise StoreError(f"session file {path} is damaged: {exc}") from None

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
        sessions = []
        for path in sorted(self.root.glob("*.json")):
            try:
                sessions.append(ChatSession.from_json(path.read_text(encoding="utf-8")))
            except (ValueError, TypeError, KeyError, OSError):
                continue
        return sorted(sessions, key=lambda s: s.created, reverse=True)
