"""Failures of the machine under the store, said as what they mean to the user.

A damaged ``chroma.sqlite3``, a full disk or a store another program holds locked reach us as
Chroma's or SQLite's own exceptions from whichever call met them first. The CLI asks
:func:`as_user_error` about any exception that escapes a command: one it recognises becomes a
:class:`StoreError` with a hint, anything else stays a bug with its traceback.
"""

from __future__ import annotations

import errno

from babelrag.stores.errors import StoreError

_DAMAGED = ("database disk image is malformed", "file is not a database", "malformed database schema")
_FULL = ("database or disk is full", "no space left on device")
_BUSY = ("database is locked", "database table is locked")
_READ_ONLY = ("attempt to write a readonly database", "readonly database")


def as_user_error(exc: BaseException) -> StoreError | None:
    """The user-facing error for a known storage failure, else None."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return _full(exc)
    if not _from_storage(exc):
        return None
    text = str(exc).lower()
    if any(marker in text for marker in _FULL):
        return _full(exc)
    if any(marker in text for marker in _DAMAGED):
        return StoreError(
            f"the knowledge store is damaged ({exc})",
            hint="`babelrag kb check` says what can be saved; restore a `babelrag kb export` backup with "
            "`babelrag kb import`, or move the data directory's chroma folder aside and ingest again",
        )
    if any(marker in text for marker in _BUSY):
        return StoreError(
            f"the knowledge store is busy ({exc})",
            hint="another program holds it; wait for it to finish and try again",
        )
    if any(marker in text for marker in _READ_ONLY):
        return StoreError(
            f"the knowledge store cannot be written ({exc})",
            hint="check the permissions of the data directory (--home, BABELRAG_HOME)",
        )
    return StoreError(f"the vector store failed: {exc}")


def _full(exc: BaseException) -> StoreError:
    return StoreError(
        f"the disk is full ({exc})",
        hint="free some space and run the command again: what was written is kept, an ingest resumes",
    )


def _from_storage(exc: BaseException) -> bool:
    """Chroma's errors and sqlite3's, recognised by module so that neither is imported here."""
    module = type(exc).__module__ or ""
    return module.startswith(("chromadb", "sqlite3"))
