"""Idempotent ingestion: files in, chunks with vectors out.

A chunk's id is a hash of its source and text, and every chunk records a fingerprint of its
file (content hash + chunking settings). Re-ingesting an unchanged file therefore does
nothing; a changed file keeps the chunks whose text survived, embeds only new ones and
drops the rest. New chunks are written hidden before stale ones are deleted, so an interrupted run
never loses what was there, and one write then shows the new version and hides the old one, so a
reader sees either version of a file whole, never both (``stores/knowledge_store.py``). Every
chunk also records how many chunks its file has, so a file cut short between two write batches is
not taken for unchanged, and the next run completes it.

Knowledge-graph dumps (``stores/wikidata.py``, ``stores/dbpedia.py``) are streamed instead: each
entity or abstract is a source of its own, fingerprinted by its rendered text, and written a
batch of sources at a time, so a newer dump re-embeds only the entities that changed. With
``translate_to``, each chunk in another language gains machine translations into those languages,
marked ``translated_from`` / ``translator`` / ``original`` (the chunk translated), never passed
off as originals.

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
from typing import TYPE_CHECKING, Protocol

import numpy as np
from langchain_core.documents import Document

from babelrag.stores.chunking import Chunker, split_sentences
from babelrag.stores.context import (
    CONTEXT_VERSION,
    MAX_SECTION_IDS,
    chunk_context,
    chunk_offsets,
    contextual_text,
    distinct_headers,
    section_runs,
    section_text,
)
from babelrag.stores.errors import UnreadableFileError
from babelrag.stores.graph_dumps import DumpOptions, dump_kind, dump_readers
from babelrag.stores.knowledge_store import (
    HEADING_OF,
    HEADS,
    PUBLISHED,
    SECTION,
    SECTION_CHUNKS,
    SECTION_IDS,
    SECTION_OF,
    KnowledgeStore,
    Scalar,
    is_passage,
    visible,
)
from babelrag.stores.loaders import FileLoader, iter_source_files
from babelrag.stores.progress import NullProgress, Progress

if TYPE_CHECKING:
    from babelrag.stores.dumps import RecordGroup


class PassageTranslator(Protocol):
    """What ingestion needs of a translator (``chains.translate.Translator`` has it)."""

    id: str

    def translate(self, text: str, source: str, target: str) -> str: ...


CHUNKER_VERSION = 1
#: Bump when the rules that build section entries change: part of every headed entry's fingerprint.
SECTION_VERSION = 1
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
    chunks_translated: int = 0
    translations_dropped: int = 0  # came back in another language than asked


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
    existing: dict[str, dict[str, Scalar]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)

    def add(self, chunk_id: str, text: str, meta: dict[str, Scalar]) -> None:
        if chunk_id not in self.existing:
            self.to_embed.append(len(self.ids))
        self.ids.append(chunk_id)
        self.texts.append(text)
        self.metadatas.append(meta)


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
        sections: bool = True,
        dumps: DumpOptions | None = None,
        translator: PassageTranslator | None = None,
        translate_to: Sequence[str] = (),
        group_size: int = 256,
        max_file_bytes: int | None = None,
    ) -> None:
        if translate_to and translator is None:
            raise ValueError("translate_to needs a translator")
        self.store = store
        self.max_file_bytes = max_file_bytes
        self.chunker = chunker
        self.detect_language = detect_language
        self.batch_size = batch_size
        self.context = context
        self.sections = context and sections  # a section is a run of chunks under one header
        self.dumps = dumps or DumpOptions()
        self.translator = translator
        self.translate_to = tuple(dict.fromkeys(translate_to))
        self.group_size = group_size  # sources of a dump planned and written together
        self._settings_hash = settings_hash(
            chunker, store.embedder.model_id, context=context, sections=sections
        )
        if self.translate_to and translator is not None:  # adding a language re-plans every file
            extra = f"{self._settings_hash}:translate={','.join(self.translate_to)}@{translator.id}"
            self._settings_hash = hashlib.sha256(extra.encode()).hexdigest()[:12]

    def ingest(
        self, paths: Sequence[Path], progress: Progress | None = None, *, report: IngestReport | None = None
    ) -> IngestReport:
        """Ingest files and folders; ``report`` (filled as files land) lets a caller that is
        interrupted say what was already written."""
        progress = progress or NullProgress()
        report = report if report is not None else IngestReport()
        files = self._collect(paths, report)
        kinds = {path: dump_kind(path, self.dumps.format) for path in files}
        plans: list[_Plan] = []
        plain = [path for path in files if kinds[path] is None]
        if plain:
            with progress.task("reading and chunking", total=len(plain)) as task:
                for path in plain:
                    plan = self._plan(path, report, progress)
                    if plan is not None:
                        plans.append(plan)
                    task.advance()
            self._translate(plans, report, progress)
            self._embed_and_write(plans, report, progress)
        dumps = {path: kind for path, kind in kinds.items() if kind is not None}
        if dumps:
            self._ingest_dumps(dumps, report, progress)
        return report

    # -- knowledge-graph dumps ---------------------------------------------------------------
    def _ingest_dumps(self, dumps: Mapping[Path, str], report: IngestReport, progress: Progress) -> None:
        with dump_readers(dumps, self.dumps, progress) as readers:
            for reader in readers:
                size = reader.path.stat().st_size * reader.passes()
                try:
                    with progress.task(f"reading {reader.path.name}", total=size) as task:
                        batch: list[RecordGroup] = []
                        for group in reader.groups(task.advance):
                            batch.append(group)
                            if len(batch) >= self.group_size:
                                self._write_groups(batch, report)
                                batch = []
                        self._write_groups(batch, report)
                except UnreadableFileError as exc:
                    report.failed.append((source_key(reader.path), exc.reason))
                report.warnings.extend(f"{source_key(reader.path)}: {w}" for w in reader.warnings)

    def _write_groups(self, groups: Sequence[RecordGroup], report: IngestReport) -> None:
        """Plan, translate, embed and write one batch of a dump's sources (entities, abstracts)."""
        existing = self.store.chunks_of_sources([g.source for g in groups])
        plans = []
        for group in {g.source: g for g in groups}.values():  # a repeated source: the last one wins
            fingerprint = f"{group.fingerprint()}:{self._settings_hash}"
            old = existing.get(group.source, {})
            if old and all(m.get("fingerprint") == fingerprint and visible(m) for m in old.values()):
                report.unchanged.append(group.source)
                continue
            plan = self._plan_documents(group.source, group.documents, fingerprint, old, report)
            if plan is not None:
                plans.append(plan)
        self._translate(plans, report, NullProgress())
        self._embed_and_write(plans, report, NullProgress())

    # -- files -------------------------------------------------------------------------------

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
        return self._plan_documents(source, documents, fingerprint, existing, report, progress)

    def _plan_documents(
        self,
        source: str,
        documents: Sequence[Document],
        fingerprint: str,
        existing: dict[str, dict[str, Scalar]],
        report: IngestReport,
        progress: Progress | None = None,
    ) -> _Plan | None:
        is_new = not any(visible(m) for m in existing.values())  # readers have not seen it yet
        plan = _Plan(source, is_new, [], [], [], [], [], existing=existing)
        seen = plan.seen
        for doc_index, doc in enumerate(documents):
            lang = doc.metadata.get("lang") or self.detect_language(doc.page_content)
            chunks = self._split(doc.page_content, source, progress or NullProgress())
            offsets = chunk_offsets(doc.page_content, chunks) if self.context else []
            contexts = self._contexts(doc.page_content, doc.metadata, offsets, len(chunks))
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
                plan.add(chunk_id, text, meta)
            for context, first in distinct_headers(contexts):
                heading_id = _chunk_id(source, f"\0heading\0{doc_index}\0{context}", seen)
                meta = {k: v for k, v in plan.metadatas[doc_start + first].items() if k != "chunk"}
                meta.pop("context", None)
                plan.add(heading_id, context, {**meta, HEADING_OF: first, HEADS: plan.ids[doc_start + first]})
            if self.sections:
                self._add_sections(plan, doc_index, doc.page_content, offsets, contexts, doc_start)
        if not plan.ids:
            report.failed.append((source, "no text left after cleaning"))
            return None
        for meta in plan.metadatas:  # a file cut short between two write batches is not unchanged
            meta["file_chunks"] = len(plan.ids)
        plan.stale = [i for i in existing if i not in seen]
        return plan

    def _add_sections(
        self,
        plan: _Plan,
        doc_index: int,
        text: str,
        offsets: list[int],
        contexts: list[str],
        doc_start: int,
    ) -> None:
        """A section entry for each run of two or more chunks under one header; its chunks name it."""
        for context, first, end in section_runs(contexts):
            body = section_text(text, offsets, first, end)
            section_id = _chunk_id(
                plan.source, section_key(doc_index, contextual_text(context, body)), plan.seen
            )
            meta = {k: v for k, v in plan.metadatas[doc_start + first].items() if k not in ("chunk", SECTION)}
            ids = ",".join(plan.ids[doc_start + first : doc_start + min(end, first + MAX_SECTION_IDS)])
            plan.add(
                section_id, body, {**meta, SECTION_OF: first, SECTION_CHUNKS: end - first, SECTION_IDS: ids}
            )
            for i in range(doc_start + first, doc_start + end):
                plan.metadatas[i][SECTION] = section_id

    # -- translation at ingest ---------------------------------------------------------------
    def _translate(self, plans: Sequence[_Plan], report: IngestReport, progress: Progress) -> None:
        """Add each chunk's translations into the target languages it is not in (cached by the
        translator: re-ingesting translates nothing again)."""
        if not self.translate_to or self.translator is None:
            return
        jobs = [
            (plan, i, target)
            for plan in plans
            for i in range(len(plan.ids))
            for target in self.translate_to
            if target != plan.metadatas[i]["lang"]
            and "translated_from" not in plan.metadatas[i]
            and is_passage(plan.metadatas[i])  # headings and sections: a translation has its own header
        ]
        with progress.task(f"translating into {', '.join(self.translate_to)}", total=len(jobs)) as task:
            for plan, i, target in jobs:
                self._add_translation(plan, i, target, report)
                task.advance()
        for plan in plans:
            plan.stale = [i for i in plan.existing if i not in plan.seen]
            for meta in plan.metadatas:  # the translations count among the file's chunks too
                meta["file_chunks"] = len(plan.ids)

    def _add_translation(self, plan: _Plan, i: int, target: str, report: IngestReport) -> None:
        assert self.translator is not None
        meta = plan.metadatas[i]
        original = str(meta["lang"])
        translated = translate_passage(self.translator, plan.texts[i], original, target)
        if not translated or translated.strip() == plan.texts[i].strip():
            return
        if self.detect_language(translated) not in (target, "und"):
            # small generators sometimes echo the source: such a text is no translation into target
            report.translations_dropped += 1
            return
        report.chunks_translated += 1
        context = str(meta.get("context") or "")
        if context:  # the header it is embedded with (title > headings), in the same language
            context = self.translator.translate(context, original, target).strip() or context
        chunk_id = _chunk_id(plan.source, f"{target}\0{contextual_text(context, translated)}", plan.seen)
        plan.add(
            chunk_id,
            translated,
            {
                **{k: v for k, v in meta.items() if k != SECTION},  # the original's section: not its own
                **({"context": context} if context else {}),
                "lang": target,
                "doc": f"{meta['doc']}:{target}",  # its own document: neighbours stay in one language
                "translated_from": original,
                "translator": self.translator.id,
                "original": plan.ids[i],
            },
        )

    def _split(self, text: str, source: str, progress: Progress) -> list[str]:
        """The document's chunks; a long one shows its own progress (a 50 MB line takes minutes)."""
        if len(text) < _LONG_DOCUMENT:
            return self.chunker.split_text(text)
        with progress.task(f"chunking {Path(source).name}", total=len(text)) as task:
            return self.chunker.split_text(text, advance=task.advance)

    def _contexts(
        self, text: str, metadata: Mapping[str, Scalar], offsets: list[int], count: int
    ) -> list[str]:
        """Each chunk's header (title > headings above it), from where the chunks start in ``text``;
        none when context is off."""
        if not self.context:
            return [""] * count
        try:
            headings = [tuple(h) for h in json.loads(str(metadata.get("headings") or "[]"))]
        except ValueError:
            headings = []
        title = str(metadata.get("title") or "")
        return [chunk_context(title, headings, at, text) for at in offsets]

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
        """New entries written hidden, then one write that publishes the file's new version (new
        entries shown, kept ones given their new metadata, stale ones hidden), then the stale ones
        deleted. A new file small enough for one write is written published at once."""
        new = plan.to_embed
        embedded = set(new)
        kept = [i for i in range(len(plan.ids)) if i not in embedded]
        at_once = not plan.existing and len(new) <= self.store.max_write()
        try:
            self.store.upsert(
                [plan.ids[i] for i in new],
                [plan.texts[i] for i in new],
                [{**plan.metadatas[i], PUBLISHED: at_once} for i in new],
                [plan.vectors[i] for i in new],
            )
            if not at_once:
                shown = new + kept
                self.store.publish(
                    [plan.ids[i] for i in shown] + plan.stale,
                    [{**_dropped_keys(plan, i), **plan.metadatas[i], PUBLISHED: True} for i in shown]
                    + [{PUBLISHED: False}] * len(plan.stale),
                )
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


def _dropped_keys(plan: _Plan, i: int) -> dict[str, Scalar]:
    """Keys a kept entry's stored metadata has and its new one lacks, set to None: Chroma merges
    an update into what is stored, and None deletes a key (a front-matter field removed, a section
    entry no longer written)."""
    old = plan.existing.get(plan.ids[i], {})
    return {key: None for key in old if key not in plan.metadatas[i] and key != PUBLISHED}  # type: ignore[misc]


def translate_passage(translator: PassageTranslator, text: str, source: str, target: str) -> str:
    """A passage translated a sentence at a time: the configured translators are built for
    one-line queries (the generator's prompt keeps the first line of its reply), and sentences
    repeat across passages, so each is translated and cached once. Lines stay lines."""
    joiner = "" if target in _NO_SPACES else " "
    lines = []
    for line in text.split("\n"):
        parts = [
            translator.translate(s.strip(), source, target).strip()
            for s in split_sentences(line)
            if s.strip()
        ]
        lines.append(joiner.join(p for p in parts if p))
    return "\n".join(lines).strip()


_NO_SPACES = frozenset({"zh", "ja", "th"})


def _complete(meta: Mapping[str, object], fingerprint: str, count: int) -> bool:
    """Whether a stored chunk says its file is unchanged and all its chunks are there (knowledge
    bases from before ``file_chunks`` have no count to compare)."""
    return (
        meta.get("fingerprint") == fingerprint and meta.get("file_chunks", count) == count and visible(meta)
    )


def settings_hash(chunker: Chunker, embedder_id: str, *, context: bool = True, sections: bool = True) -> str:
    """The part of every chunk's fingerprint that says how it was chunked and embedded."""
    settings = f"{CHUNKER_VERSION}:{chunker.max_tokens}:{chunker.overlap_tokens}:{embedder_id}"
    if context:  # without: the fingerprints of knowledge bases built before chunk headers
        settings += f":context{CONTEXT_VERSION}"
        if sections:  # without: those built before section entries
            settings += f":sections{SECTION_VERSION}"
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
    sources = {str(m.get("source", "")) for _, _, m in store.iter_chunks(hidden=True)}
    for raw in paths:
        key = str(raw) if is_record_source(str(raw)) else source_key(Path(raw))
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


def is_record_source(name: str) -> bool:
    """Whether ``name`` names a dump record (``wikidata:Q42``, a DBpedia resource), not a file."""
    return name.startswith(("wikidata:", "http://", "https://"))


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


def section_key(doc_index: int | str, embedded: str) -> str:
    """What a section entry's id hashes (with its source): its document and embedded text."""
    return f"\0section\0{doc_index}\0{embedded}"


def chunk_id_for(source: str, text: str, n: int = 0) -> str:
    """The id of the ``n``-th repeat of ``text`` (with its context header) in ``source``."""
    return hashlib.sha256(f"{source}\0{text}\0{n}".encode()).hexdigest()[:32]
