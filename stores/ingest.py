"""Idempotent ingestion: files in, chunks with vectors out.

A chunk's id is a hash of its source and text, and every chunk records a fingerprint of its
file (content hash + chunking settings). Re-ingesting an unchanged file therefore does
nothing; a changed file keeps the chunks whose text survived, embeds only new ones and
drops the rest. New chunks are written before stale ones are deleted, so an interrupted run
never loses what was there; every chunk also records how many chunks its file has, so a file cut
short between two write batches is not taken for unchanged, and the next run completes it.

Our own rather than LangChain's ``index()``: that needs a record store beside Chroma and still
parses and chunks every unchanged file; here the fingerprints live in the chunks' metadata, so a
knowledge base is one self-contained collection and an unchanged file is skipped by its hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from babelrag.stores.chunking import Chunker
from babelrag.stores.context import (
    CONTEXT_VERSION,
    chunk_context,
    chunk_offsets,
    contextual_text,
    distinct_headers,
)
from babelrag.stores.errors import UnreadableFileError
from babelrag.stores.knowledge_store import HEADING_OF, KnowledgeStore, Scalar
from babelrag.stores.loaders import FileLoader, iter_source_files
from babelrag.stores.progress import NullProgress, Progress

CHUNKER_VERSION = 1
_LONG_DOCUMENT = 1_000_000  # characters: chunking shows progress of its own above this


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_kept: int = 0
    chunks_removed: int = 0


@dataclass
class RemoveReport:
    removed: dict[str, int] = field(default_factory=dict)  # source -> chunks
    not_found: list[str] = field(default_factory=list)


@dataclass
class _Plan:
    source: str
    is_new: bool
    ids: list[str]
    texts: list[str]
    metadatas: list[dict[str, Scalar]]
    to_embed: list[int]  # indexes into ids needing vectors
    stale: list[str]
    vectors: dict[int, np.ndarray] = field(default_factory=dict)

    def add(self, entry_id: str, text: str, metadata: dict[str, Scalar], *, new: bool) -> None:
        if new:
            self.to_embed.append(len(self.ids))
        self.ids.append(entry_id)
        self.texts.append(text)
        self.metadatas.append(metadata)


class Ingestor:
    """Adds, updates and removes sources of one :class:`KnowledgeStore`."""

    def __init__(
        self,
        *,
        store: KnowledgeStore,
        chunker: Chunker,
        detect_language: Callable[[str], str],
        batch_size: int = 16,
        context: bool = True,
        max_file_bytes: int | None = None,
    ) -> None:
        self.store = store
        self.max_file_bytes = max_file_bytes
        self.chunker = chunker
        self.detect_language = detect_language
        self.batch_size = batch_size
        self.context = context
        self._settings_hash = settings_hash(chunker, store.embedder.model_id, context=context)

    def ingest(
        self, paths: Sequence[Path], progress: Progress | None = None, *, report: IngestReport | None = None
    ) -> IngestReport:
        """Ingest files and folders; ``report`` (filled as files land) lets a caller that is
        interrupted say what was already written."""
        progress = progress or NullProgress()
        report = report if report is not None else IngestReport()
        files = self._collect(paths, report)
        plans: list[_Plan] = []
        with progress.task("reading and chunking", total=len(files)) as task:
            for path in files:
                plan = self._plan(path, report, progress)
                if plan is not None:
                    plans.append(plan)
                task.advance()
        self._embed_and_write(plans, report, progress)
        return report

    def _collect(self, paths: Sequence[Path], report: IngestReport) -> list[Path]:
        files: dict[Path, None] = {}

        def unreadable(path: Path, reason: str) -> None:  # a folder inside: the rest still lands
            report.failed.append((str(path), reason))

        for path in paths:
            try:
                for file in iter_source_files([path], on_error=unreadable):
                    files[file.resolve()] = None
            except UnreadableFileError as exc:
                report.failed.append((str(exc.path), exc.reason))
        return list(files)

    def _plan(self, path: Path, report: IngestReport, progress: Progress) -> _Plan | None:
        source = source_key(path)
        try:
            if self.max_file_bytes is not None and (size := path.stat().st_size) > self.max_file_bytes:
                report.failed.append((source, _too_large(size, self.max_file_bytes)))
                return None
            raw = path.read_bytes()
        except OSError as exc:
            report.failed.append((source, f"cannot read: {exc.strerror or exc}"))
            return None
        fingerprint = f"{hashlib.sha256(raw).hexdigest()[:24]}:{self._settings_hash}"
        existing = self.store.chunks_of(source)
        if existing and all(_complete(m, fingerprint, len(existing)) for m in existing.values()):
            report.unchanged.append(source)
            return None
        loader = FileLoader(path)
        try:
            documents = loader.load()
        except UnreadableFileError as exc:
            report.failed.append((source, exc.reason))
            return None
        report.warnings.extend(f"{source}: {w}" for w in loader.warnings)
        plan = _Plan(source, not existing, [], [], [], [], [])
        seen: set[str] = set()
        for doc_index, doc in enumerate(documents):
            lang = doc.metadata.get("lang") or self.detect_language(doc.page_content)
            chunks = self._split(doc.page_content, path, progress)
            contexts = self._contexts(doc.page_content, doc.metadata, chunks)
            doc_start = len(plan.ids)
            for chunk_index, (text, context) in enumerate(zip(chunks, contexts, strict=True)):
                chunk_id = _chunk_id(source, contextual_text(context, text), seen)
                meta: dict[str, Scalar] = {
                    **_user_metadata(doc.metadata),
                    "source": source,
                    "title": doc.metadata["title"],
                    "lang": lang,
                    "doc": doc_index,
                    "chunk": chunk_index,
                    "fingerprint": fingerprint,
                    **({"context": context} if context else {}),
                }
                plan.add(chunk_id, text, meta, new=chunk_id not in existing)
            for context, first in distinct_headers(contexts):
                heading_id = _chunk_id(source, f"\0heading\0{doc_index}\0{context}", seen)
                meta = {k: v for k, v in plan.metadatas[doc_start + first].items() if k != "chunk"}
                meta.pop("context", None)
                plan.add(heading_id, context, {**meta, HEADING_OF: first}, new=heading_id not in existing)
        if not plan.ids:
            report.failed.append((source, "no text left after cleaning"))
            return None
        for meta in plan.metadatas:  # a file cut short between two write batches is not unchanged
            meta["file_chunks"] = len(plan.ids)
        plan.stale = [i for i in existing if i not in seen]
        return plan

    def _split(self, text: str, path: Path, progress: Progress) -> list[str]:
        """The document's chunks; a long one shows its own progress (a 50 MB line takes minutes)."""
        if len(text) < _LONG_DOCUMENT:
            return self.chunker.split_text(text)
        with progress.task(f"chunking {path.name}", total=len(text)) as task:
            return self.chunker.split_text(text, advance=task.advance)

    def _contexts(self, text: str, metadata: Mapping[str, Scalar], chunks: list[str]) -> list[str]:
        """Each chunk's header (title > headings above it), or none when context is off."""
        if not self.context:
            return [""] * len(chunks)
        try:
            headings = [tuple(h) for h in json.loads(str(metadata.get("headings") or "[]"))]
        except ValueError:
            headings = []
        title = str(metadata.get("title") or "")
        return [chunk_context(title, headings, at, text) for at in chunk_offsets(text, chunks)]

    def _embed_and_write(self, plans: list[_Plan], report: IngestReport, progress: Progress) -> None:
        # Sorted by length across files, so each batch pads little (1.4x fewer encoder tokens than
        # file order on the sample KB); a file is written as soon as its last chunk has a vector.
        queue = sorted(
            ((plan, i) for plan in plans for i in plan.to_embed), key=lambda pi: len(pi[0].texts[pi[1]])
        )
        remaining = {id(plan): len(plan.to_embed) for plan in plans}
        for plan in plans:
            if not plan.to_embed:
                self._write(plan, report)
        with progress.task("embedding", total=len(queue)) as task:
            for start in range(0, len(queue), self.batch_size):
                batch = queue[start : start + self.batch_size]
                vectors = self.store.embedder.embed_documents(
                    [
                        contextual_text(str(plan.metadatas[i].get("context") or ""), plan.texts[i])
                        for plan, i in batch
                    ]
                )
                for (plan, i), vector in zip(batch, vectors, strict=True):
                    # float32 until written: a list of Python floats takes 8x the memory
                    plan.vectors[i] = np.asarray(vector, dtype=np.float32)
                    remaining[id(plan)] -= 1
                    if remaining[id(plan)] == 0:
                        self._write(plan, report)
                task.advance(len(batch))

    def _write(self, plan: _Plan, report: IngestReport) -> None:
        new = plan.to_embed
        embedded = set(new)
        kept = [i for i in range(len(plan.ids)) if i not in embedded]
        try:
            self.store.upsert(
                [plan.ids[i] for i in new],
                [plan.texts[i] for i in new],
                [plan.metadatas[i] for i in new],
                [plan.vectors[i] for i in new],
            )
            self.store.update_metadata([plan.ids[i] for i in kept], [plan.metadatas[i] for i in kept])
        except Exception as exc:  # one file the store refuses must not stop the batch
            if not _rejected_input(exc):
                raise
            report.failed.append((plan.source, f"the store refused its chunks: {exc}"))
            plan.vectors.clear()
            return
        self.store.delete(plan.stale)
        (report.added if plan.is_new else report.updated).append(plan.source)
        report.chunks_embedded += len(new)
        report.chunks_kept += len(kept)
        report.chunks_removed += len(plan.stale)
        plan.vectors.clear()


def _complete(meta: Mapping[str, object], fingerprint: str, count: int) -> bool:
    """Whether a stored chunk says its file is unchanged and all its chunks are there (knowledge
    bases from before ``file_chunks`` have no count to compare)."""
    return meta.get("fingerprint") == fingerprint and meta.get("file_chunks", count) == count


def settings_hash(chunker: Chunker, embedder_id: str, *, context: bool = True) -> str:
    """The part of every chunk's fingerprint that says how it was chunked and embedded."""
    settings = f"{CHUNKER_VERSION}:{chunker.max_tokens}:{chunker.overlap_tokens}:{embedder_id}"
    if context:  # without: the fingerprints of knowledge bases built before chunk headers
        settings += f":context{CONTEXT_VERSION}"
    return hashlib.sha256(settings.encode()).hexdigest()[:12]


def with_settings_hash(fingerprint: str, new_hash: str) -> str:
    """A chunk's fingerprint (``file hash:settings hash``) with other settings."""
    return f"{fingerprint.partition(':')[0]}:{new_hash}"


def _too_large(size: int, limit: int) -> str:
    return (
        f"skipped: {size / 1e6:.1f} MB, over the limit of {limit / 1e6:g} MB "
        "(raise ingest.max_file_mb, env BABELRAG_INGEST__MAX_FILE_MB, to ingest it)"
    )


def remove_sources(store: KnowledgeStore, paths: Iterable[Path | str]) -> RemoveReport:
    """Delete every chunk of the given files, or of all files below the given folders."""
    report = RemoveReport()
    sources = store.sources()
    for raw in paths:
        key = source_key(Path(raw))
        matched = [s for s in sources if s == key or s.startswith(key.rstrip("/") + "/")]
        if not matched:
            report.not_found.append(str(raw))
        for source in matched:
            ids = list(store.chunks_of(source))
            store.delete(ids)
            report.removed[source] = len(ids)
    return report


_RESERVED = frozenset(
    {"source", "title", "lang", "doc", "chunk", "fingerprint", "id", "score", "context", "headings"}
    | {"file_chunks"}
)


def _user_metadata(metadata: Mapping[str, Scalar]) -> dict[str, Scalar]:
    """The document's own metadata, less the loader's ``title`` and ``lang`` and the keys every chunk
    sets; its ``id`` is kept as ``doc_id`` (ours is the chunk id). Keys are made ones Chroma accepts
    (see :func:`safe_metadata_key`); where two meet, the one written as it is wins."""
    out: dict[str, Scalar] = {}
    for key, value in metadata.items():
        safe = safe_metadata_key(key)
        if safe is not None and safe not in _RESERVED and (safe == key or safe not in metadata):
            out[safe] = value
    if "id" in metadata:
        out["doc_id"] = metadata["id"]
    return out


def safe_metadata_key(key: str) -> str | None:
    """A user's metadata key as Chroma stores it, or None to drop it.

    Chroma refuses keys that start with ``$`` or ``#`` (its operators) and ``chroma:`` ones, and
    one such key in a front matter used to stop a whole ingest: ``$schema`` becomes ``schema``,
    ``#tags`` ``tags``, ``chroma:x`` ``meta:chroma:x``; an empty key is dropped.
    """
    safe = key.strip().lstrip("$#").strip()
    if not safe:
        return None
    return "meta:" + safe if safe.startswith("chroma:") else safe


def _rejected_input(exc: Exception) -> bool:
    """Whether a store error is about what one file holds (so only that file fails), not the store."""
    from chromadb.errors import InvalidArgumentError

    return isinstance(exc, InvalidArgumentError | ValueError)


def source_key(path: Path) -> str:
    """How a file is named in the store: its absolute path."""
    return str(path.expanduser().resolve())


def _chunk_id(source: str, text: str, seen: set[str]) -> str:
    """Content hash of (source, text); repeats of the same text in one source get a counter."""
    n = 0
    while True:
        digest = chunk_id_for(source, text, n)
        if digest not in seen:
            seen.add(digest)
            return digest
        n += 1


def chunk_id_for(source: str, text: str, n: int = 0) -> str:
    """The id of the ``n``-th repeat of ``text`` (with its context header) in ``source``."""
    return hashlib.sha256(f"{source}\0{text}\0{n}".encode()).hexdigest()[:32]
