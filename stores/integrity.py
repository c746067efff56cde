"""Checking a knowledge base against its own invariants, and repairing what breaks them.

Every chunk's id is the hash of its source and text (see ``ingest.py``), every chunk of one file
carries that file's one fingerprint, and every vector has the collection's dimension. A crash, a
disk error or another program writing the store can break each of these; :func:`check` reads the
whole collection a page at a time and says which are broken, and :func:`repair` deletes what cannot
be trusted (orphans, ids that do not match their text, vectors of the wrong size or none) and marks
the files they came from as changed, so the next ingest of those files (which repair runs when it
is given an ingestor) rebuilds exactly what is missing. Files that no longer exist are reported,
never removed: a knowledge base built from an unmounted drive is not broken.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babelrag.stores.context import contextual_text
from babelrag.stores.ingest import chunk_id_for, section_key
from babelrag.stores.knowledge_store import (
    HEADING_OF,
    SECTION_OF,
    KnowledgeStore,
    building_name,
    visible,
)
from babelrag.stores.progress import NullProgress, Progress

if TYPE_CHECKING:
    from babelrag.stores.ingest import IngestReport

#: The fingerprint a repair gives the surviving chunks of a damaged file: it matches no file, so
#: the next ingest of the file re-plans it (keeps what is intact, embeds what is missing).
INVALID_FINGERPRINT = "repair:0"


@dataclass
class CheckReport:
    kb: str
    chunks: int = 0
    sources: int = 0
    embedder_id: str | None = None
    dimension: int | None = None
    problems: list[str] = field(default_factory=list)  # collection-wide, said in words
    orphans: list[str] = field(default_factory=list)  # chunk ids without source or fingerprint
    bad_ids: list[str] = field(default_factory=list)  # ids that are not the hash of source + text
    bad_vectors: list[str] = field(default_factory=list)  # no vector, or of the wrong dimension
    mixed: list[str] = field(default_factory=list)  # sources whose chunks carry several fingerprints
    incomplete: list[str] = field(default_factory=list)  # sources with fewer chunks than they record
    unpublished: list[str] = field(default_factory=list)  # sources with hidden entries an ingest left
    missing_files: list[str] = field(default_factory=list)  # sources no longer on disk
    store_file: str | None = None  # SQLite's own integrity check of the local store, "ok" when sound
    leftovers: list[str] = field(default_factory=list)  # work collections an interrupted re-embed left
    damaged_sources: list[str] = field(default_factory=list)  # sources a repair must re-ingest

    @property
    def ok(self) -> bool:
        return not (
            self.problems
            or self.orphans
            or self.bad_ids
            or self.bad_vectors
            or self.mixed
            or self.incomplete
            or self.unpublished
            or self.leftovers
            or (self.store_file not in (None, "ok"))
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``kb check --json`` contract."""
        return {
            "kb": self.kb,
            "ok": self.ok,
            "chunks": self.chunks,
            "sources": self.sources,
            "embedder": self.embedder_id,
            "dimension": self.dimension,
            "store_file": self.store_file,
            "problems": self.problems,
            "orphans": self.orphans,
            "bad_ids": self.bad_ids,
            "bad_vectors": self.bad_vectors,
            "mixed_fingerprints": self.mixed,
            "incomplete_sources": self.incomplete,
            "unpublished_sources": self.unpublished,
            "missing_files": self.missing_files,
            "leftover_collections": self.leftovers,
        }


@dataclass
class RepairReport:
    deleted: int = 0
    marked: list[str] = field(default_factory=list)  # sources marked changed
    dropped: list[str] = field(default_factory=list)  # leftover collections
    reingested: IngestReport | None = None


def sqlite_integrity(chroma_dir: Path) -> str:
    """SQLite's ``quick_check`` of a local store's database, read-only: "ok" or what is wrong."""
    path = chroma_dir / "chroma.sqlite3"
    if not path.exists():
        return "ok"
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
            rows = db.execute("PRAGMA quick_check(5)").fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return "; ".join(str(row[0]) for row in rows)


def check(
    store: KnowledgeStore,
    *,
    chroma_dir: Path | None = None,
    progress: Progress | None = None,
    page: int = 2000,
) -> CheckReport:
    """Every invariant of ``store``'s chunks; ``chroma_dir`` (a local store) adds SQLite's check."""
    progress = progress or NullProgress()
    report = CheckReport(kb=store.name)
    meta = store.metadata
    report.embedder_id = meta.get("embedder_id")
    report.dimension = meta.get("embedding_dim")
    if not report.embedder_id or not isinstance(report.dimension, int):
        report.problems.append("the collection does not record its embedding model and dimension")
    if chroma_dir is not None:
        report.store_file = sqlite_integrity(chroma_dir)
    existing = {c.name for c in store.client.list_collections()}
    report.leftovers = [name for name in (building_name(store.name),) if name in existing]
    fingerprints: dict[str, set[str]] = defaultdict(set)
    recorded: dict[str, set[object]] = defaultdict(set)  # the chunk counts a source's chunks record
    ids_by_source: dict[str, list[tuple[str, str]]] = defaultdict(list)  # (id, contextual text)
    hidden: set[str] = set()
    total = store.count()
    report.chunks = total
    with progress.task(f"checking {store.name}", total=total) as task:
        for offset in range(0, total, page):
            got = store.collection.get(
                include=["documents", "metadatas", "embeddings"], limit=page, offset=offset
            )
            vectors = got.get("embeddings")
            for i, cid in enumerate(got["ids"]):
                metadata = dict((got["metadatas"] or [])[i] or {})
                text = (got["documents"] or [])[i] or ""
                vector = vectors[i] if vectors is not None and len(vectors) > i else None
                source, fingerprint = metadata.get("source"), metadata.get("fingerprint")
                if not isinstance(source, str) or not source or not isinstance(fingerprint, str):
                    report.orphans.append(cid)
                    continue
                fingerprints[source].add(fingerprint)
                if not visible(metadata):  # an ingest stopped between writing and publishing
                    hidden.add(source)
                recorded[source].add(metadata.get("file_chunks"))
                ids_by_source[source].append((cid, hashed_text(text, metadata)))
                if vector is None or (report.dimension and len(vector) != report.dimension):
                    report.bad_vectors.append(cid)
            task.advance(len(got["ids"]))
    report.sources = len(fingerprints)
    for source, pairs in ids_by_source.items():
        report.bad_ids.extend(_bad_ids(source, pairs))
    report.mixed = sorted(s for s, prints in fingerprints.items() if len(prints) > 1)
    report.incomplete = sorted(
        s for s, counts in recorded.items() if counts != {None} and counts != {len(ids_by_source[s])}
    )
    report.unpublished = sorted(hidden)
    report.missing_files = sorted(s for s in fingerprints if not Path(s).exists())
    damaged = {s for s, pairs in ids_by_source.items() for cid, _ in pairs if cid in set(report.bad_ids)}
    damaged |= {s for s, pairs in ids_by_source.items() for cid, _ in pairs if cid in set(report.bad_vectors)}
    report.damaged_sources = sorted(damaged | set(report.mixed) | set(report.incomplete) | hidden)
    return report


def hashed_text(text: str, metadata: dict[str, Any]) -> str:
    """What a stored entry's id is the hash of (with its source): a chunk's contextual text, or for
    a heading entry its document and header, a section entry its document and contextual text (see
    ``Ingestor._plan_documents``)."""
    if HEADING_OF in metadata:
        return f"\0heading\0{metadata.get('doc', 0)}\0{text}"
    embedded = contextual_text(str(metadata.get("context") or ""), text)
    return section_key(metadata.get("doc", 0), embedded) if SECTION_OF in metadata else embedded


def _bad_ids(source: str, pairs: list[tuple[str, str]]) -> list[str]:
    """Chunk ids that no text of this source hashes to (repeats of one text count up, as in ingest)."""
    ids = {cid for cid, _ in pairs}
    expected: set[str] = set()
    for text in sorted({text for _, text in pairs}):
        n = 0
        while (cid := chunk_id_for(source, text, n)) in ids:
            expected.add(cid)
            n += 1
    return sorted(ids - expected)


def repair(
    store: KnowledgeStore,
    report: CheckReport,
    *,
    reingest: Callable[[list[Path]], IngestReport] | None = None,
) -> RepairReport:
    """Delete what cannot be trusted, mark damaged files changed, drop leftover work collections,
    and (given ``reingest``) ingest the damaged files that still exist again."""
    result = RepairReport()
    doomed = sorted(set(report.orphans) | set(report.bad_ids) | set(report.bad_vectors))
    store.delete(doomed)
    result.deleted = len(doomed)
    for source in report.damaged_sources:
        chunks = store.chunks_of(source)
        store.update_metadata(
            list(chunks), [{**meta, "fingerprint": INVALID_FINGERPRINT} for meta in chunks.values()]
        )
        result.marked.append(source)
    for name in report.leftovers:
        store.client.delete_collection(name)
        result.dropped.append(name)
    present = [Path(s) for s in result.marked if Path(s).exists()]
    if reingest is not None and present:
        result.reingested = reingest(present)
    return result
