"""Uploaded files land in ``<home>/uploads/<kb>/`` and nowhere else.

A client names its file; that name is untrusted. Only its last path component is kept, it must
end in a suffix the loaders read, and the final path is checked to lie inside the knowledge base's
upload folder after resolving (no ``..``, no absolute paths, no links out). A file is written to a
temporary name while its size is counted and renamed into place only when complete and within
the limit, so a refused or broken upload leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path

from babelrag.agents.service.errors import TooLargeError, UnsupportedFileError
from babelrag.stores.errors import ConfigError
from babelrag.stores.loaders import SUPPORTED_SUFFIXES

_CHUNK = 1 << 20


def uploads_root(home: Path, kb: str) -> Path:
    """The folder of one knowledge base's uploads (``kb`` is a validated name)."""
    return home / "uploads" / kb


def safe_filename(name: str | None) -> str:
    """The client's file name reduced to a safe last component, or a :class:`ConfigError`."""
    if not name:
        raise ConfigError("an uploaded file has no name")
    base = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if not base or base in (".", "..") or base.startswith("."):
        raise ConfigError(
            f"invalid file name {name!r}", hint="upload a file with a plain name, like notes.md"
        )
    if any(unicodedata.category(c).startswith("C") for c in base) or len(base.encode("utf-8")) > 200:
        raise ConfigError(f"invalid file name {name!r}: control characters or longer than 200 bytes")
    suffix = Path(base).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFileError(
            f"{base}: files ending in {suffix or '(no suffix)'} cannot be ingested",
            hint="upload " + ", ".join(sorted(SUPPORTED_SUFFIXES)),
        )
    return base


def target_path(root: Path, name: str | None) -> Path:
    """Where an upload called ``name`` goes: always a direct child of ``root``."""
    path = root / safe_filename(name)
    resolved_root = root.resolve()
    if path.resolve().parent != resolved_root:
        raise ConfigError(f"invalid file name {name!r}: it leaves the upload folder")
    return path


async def save_upload(chunks: AsyncIterator[bytes], target: Path, *, max_bytes: int) -> int:
    """Write ``chunks`` to ``target`` atomically; :class:`TooLargeError` past ``max_bytes``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".upload-", suffix=".part", dir=target.parent)
    size = 0
    try:
        with os.fdopen(fd, "wb") as fh:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise TooLargeError(
                        f"{target.name} is larger than the upload limit ({max_bytes / 2**20:g} MiB)",
                        hint="raise service.upload_max_mb, or ingest the file with `babelrag ingest`",
                    )
                fh.write(chunk)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return size


def remove_uploads(home: Path, kb: str) -> None:
    """Delete a dropped knowledge base's uploaded files."""
    root = uploads_root(home, kb)
    if root.is_dir() and root.resolve().parent == (home / "uploads").resolve():
        shutil.rmtree(root)


async def read_chunks(upload, size: int = _CHUNK) -> AsyncIterator[bytes]:
    """The bytes of a Starlette ``UploadFile``, a chunk at a time."""
    while chunk := await upload.read(size):
        yield chunk
