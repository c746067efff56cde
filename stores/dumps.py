"""Knowledge-graph dumps as streams of records: what the Wikidata and DBpedia readers share.

A dump is far larger than memory (Wikidata's ``latest-all.json.gz`` is over 100 GB unpacked), so
it is read line by line from the compressed file, and progress is the share of *compressed* bytes
read: the only size known before the end. Each reader yields :class:`RecordGroup` values, the
documents of one source (an entity, a resource's abstract), which the ingestor fingerprints and
writes one small batch at a time, so an updated dump re-embeds only what changed.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from langchain_core.documents import Document

from babelrag.stores.errors import UnreadableFileError

#: Line-level problems are reported one by one up to this many per file, then counted.
MAX_REPORTED = 50


@dataclass(frozen=True)
class RecordGroup:
    """The documents of one source; the ingestor replaces that source's chunks as a unit."""

    source: str
    documents: list[Document]

    def fingerprint(self) -> str:
        """A hash of what is embedded: an unchanged entity in a newer dump keeps its chunks."""
        digest = hashlib.sha256()
        for doc in self.documents:
            digest.update(doc.page_content.encode())
            digest.update(json.dumps(doc.metadata, sort_keys=True, ensure_ascii=False).encode())
        return digest.hexdigest()[:24]


class RecordReader(Protocol):
    """A dump file read as record groups; ``warnings`` collects skipped lines while reading."""

    path: Path
    warnings: list[str]

    def groups(self, advance: Callable[[int], None]) -> Iterator[RecordGroup]:
        """The groups in file order; ``advance(n)`` reports ``n`` more compressed bytes read."""
        ...

    def passes(self) -> int:
        """How many times the file is read (the progress total is ``passes() * size``)."""
        ...


def compression(path: Path) -> str | None:
    """``"gz"``, ``"bz2"`` or None, by the file's magic bytes (a suffix may lie)."""
    with path.open("rb") as f:
        head = f.read(3)
    if head[:2] == b"\x1f\x8b":
        return "gz"
    if head == b"BZh":
        return "bz2"
    return None


def stem(path: Path) -> str:
    """The name without compression suffix: ``latest-all.json.bz2`` -> ``latest-all.json``."""
    name = path.name
    for suffix in (".gz", ".bz2"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


class _Counting(io.RawIOBase):
    """A raw file that reports each read's size, so progress follows the compressed bytes."""

    def __init__(self, raw: IO[bytes], advance: Callable[[int], None]) -> None:
        self.raw = raw
        self.advance = advance

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = self.raw.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self.advance(n)
        return n or 0


@contextmanager
def open_lines(path: Path, advance: Callable[[int], None] = lambda n: None) -> Iterator[Iterator[str]]:
    """Decoded lines of a plain, gzip or bzip2 file (chosen by magic bytes), without line ends.

    A truncated or corrupt archive is an :class:`UnreadableFileError` naming the line reached.
    """
    kind = compression(path)
    with path.open("rb") as raw:
        counted = io.BufferedReader(_Counting(raw, advance), buffer_size=1 << 20)
        stream: IO[bytes] = (
            gzip.GzipFile(fileobj=counted)
            if kind == "gz"
            else bz2.BZ2File(counted)
            if kind == "bz2"
            else counted
        )
        text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="\n")
        yield _guarded(path, text)


def _guarded(path: Path, text: Iterable[str]) -> Iterator[str]:
    number = 0
    try:
        for number, line in enumerate(text, 1):  # noqa: B007 - the count is read in the handler
            yield line.rstrip("\r\n")
    except (OSError, EOFError, ValueError) as exc:  # gzip.BadGzipFile is an OSError
        raise UnreadableFileError(path, f"damaged or truncated archive after line {number}: {exc}") from exc


class DiskSet:
    """A set of short strings, and values per key, in a temporary SQLite file: memory stays flat
    however many entities a selection references (a Python set of 50 million ids would not)."""

    def __init__(self, folder: Path | None = None) -> None:
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix="babelrag-kg-", suffix=".sqlite", dir=folder)
        import os

        os.close(handle)
        self.path = Path(name)
        self._db = sqlite3.connect(name)
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
            "CREATE TABLE keys (key TEXT PRIMARY KEY) WITHOUT ROWID;"
            "CREATE TABLE vals (key TEXT, sub TEXT, value TEXT, PRIMARY KEY (key, sub)) WITHOUT ROWID;"
        )

    def add_keys(self, keys: Iterable[str]) -> None:
        self._db.executemany("INSERT OR IGNORE INTO keys VALUES (?)", ((k,) for k in keys))

    def has_key(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM keys WHERE key=?", (key,)).fetchone() is not None

    def put(self, rows: Iterable[tuple[str, str, str]]) -> None:
        self._db.executemany("INSERT OR REPLACE INTO vals VALUES (?, ?, ?)", rows)

    def has_values(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM vals WHERE key=? LIMIT 1", (key,)).fetchone() is not None

    def values(self, keys: Iterable[str]) -> dict[str, dict[str, str]]:
        """``{key: {sub: value}}`` for the keys that have any."""
        out: dict[str, dict[str, str]] = {}
        keys = list(dict.fromkeys(keys))
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            marks = ",".join("?" * len(part))
            for key, sub, value in self._db.execute(
                f"SELECT key, sub, value FROM vals WHERE key IN ({marks})", part
            ):
                out.setdefault(key, {})[sub] = value
        return out

    def close(self) -> None:
        self._db.close()
        self.path.unlink(missing_ok=True)
