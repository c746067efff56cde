"""One writer at a time per knowledge base, and one process at a time creating a data directory.

Chroma's local store has no notion of two processes writing one collection: two ingests at once
race on creating it, and their interleaved writes and deletes make each other's fingerprints lie.
Writers (ingest, remove, reembed, import, repair) therefore hold an operating-system file lock
(``filelock``: ``fcntl``/``LockFileEx``, released by the kernel when the holder dies, even by
SIGKILL, so a crash never leaves a stale lock). A second writer waits, saying who holds the lock,
or with ``wait=False`` fails at once with a :class:`KnowledgeBaseBusyError`. Readers take no lock:
ingestion writes a file's new chunks before it deletes the stale ones, so a search sees all of the
old or all of the new chunks of every file (for a moment both), never a half.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from filelock import FileLock, Timeout

from babelrag.stores.errors import StoreError

LOCKS_FOLDER = "locks"


class KnowledgeBaseBusyError(StoreError):
    """Another process is writing the knowledge base (raised only when asked not to wait)."""


def lock_path(folder: Path, kb: str) -> Path:
    return folder / f"kb-{kb}.lock"


@contextmanager
def writer_lock(
    folder: Path,
    kb: str,
    *,
    wait: bool = True,
    notify: Callable[[str], None] | None = None,
    poll_seconds: float = 0.2,
) -> Iterator[None]:
    """Hold the writer lock of ``kb`` (lock files live in ``folder``) for the ``with`` block."""
    folder.mkdir(parents=True, exist_ok=True)
    path = lock_path(folder, kb)
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = describe_holder(path)
        if not wait:
            raise KnowledgeBaseBusyError(
                f"knowledge base {kb!r} is being written by another process{holder}",
                hint="wait for it to finish, or run the command again without --no-wait to wait",
            ) from None
        if notify is not None:
            notify(f"waiting for another process writing knowledge base {kb!r}{holder} …")
        lock.acquire(timeout=-1, poll_interval=poll_seconds)
    owner = _owner_path(path)
    try:
        _write_owner(owner)
        yield
    finally:
        owner.unlink(missing_ok=True)
        lock.release()


def describe_holder(path: Path) -> str:
    """`` (pid 123, babelrag ingest …, since 12:03:04)`` when the holder said who it is, else ``""``."""
    try:
        owner = json.loads(_owner_path(path).read_text(encoding="utf-8"))
        since = time.strftime("%H:%M:%S", time.localtime(float(owner["since"])))
        return f" (pid {int(owner['pid'])}, {str(owner['command'])[:80]}, since {since})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def _owner_path(path: Path) -> Path:
    return path.with_suffix(".owner")


def _write_owner(path: Path) -> None:
    """Who holds the lock, for the message a waiting writer prints; best effort."""
    command = " ".join(["babelrag", *sys.argv[1:]]) if sys.argv else "babelrag"
    data = {"pid": os.getpid(), "host": socket.gethostname(), "command": command, "since": time.time()}
    with suppress(OSError):
        path.write_text(json.dumps(data), encoding="utf-8")


@contextmanager
def creation_lock(folder: Path) -> Iterator[None]:
    """Serialise opening (and so creating) one Chroma folder: two processes creating a new data
    directory at once otherwise race on its tables (``table collections already exists``)."""
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(folder / ".babelrag-open.lock"):
        yield
