"""One knowledge base = one Chroma collection (cosine space) tied to one embedding model.

The collection's metadata records the embedder's id and dimension; opening it with another
embedder is an :class:`EmbedderMismatchError`, because vectors from two models in one index
give silently wrong answers. It also holds a ``revision`` token, replaced after every write, so
that whatever a process derives from the chunks (BM25 index, language counts) is rebuilt when any
process changed them: the client may be a Chroma server that others write to too
(see :mod:`babelrag.stores.chroma_server`).

An ingest publishes a file's new version at once: its new entries are written hidden
(``published: False``), then one write shows them and hides the stale ones, then the stale ones are
deleted. Every read here leaves hidden entries out, so a reader sees a file's old entries or its new
ones, never both and never half. Chroma reads in steps (the ids a filter matches, then their
records), so a read can straddle that one write: the writer marks the collection while it publishes
(``publishing``, with the time) and replaces the revision token after, and a reader that saw the mark
or a different token after its read than before reads again (a seqlock: :meth:`consistent`). A
file is published by one write up to 4,096 entries (Chroma's largest batch; past ~800,000 tokens it
takes several). Entries without the key (knowledge bases written before it) are published.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from langchain_core.documents import Document

from babelrag.stores.embeddings import TextEmbedder
from babelrag.stores.errors import EmbedderMismatchError, StoreError

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

T = TypeVar("T")
SCHEMA_VERSION = 1
COLLECTION_PREFIX = "kb-"
#: Metadata of a knowledge base's old index while a re-embedding swaps the new one in: the name.
SWAPPED_FROM = "babelrag_kb"
#: Metadata of a heading entry (a document's header embedded on its own, see ``stores/context.py``):
#: the index of the chunk it heads. Heading entries have no ``chunk`` key.
HEADING_OF = "heading_of"
#: Metadata of a section entry (a section's whole text, up to the model's limit, embedded on its
#: own, see ``stores/context.py``): the index of its first chunk; ``section_chunks`` says how many.
SECTION_OF = "section_of"
SECTION_CHUNKS = "section_chunks"
#: Metadata of a chunk whose section has a section entry: that entry's id.
SECTION = "section"
#: Metadata of a heading entry: the id of the chunk it heads; of a section entry: its chunks' ids,
#: comma-separated (retrieval reads them by id, one read for all; heading entries written before
#: ``heads`` existed are found by their place instead).
HEADS = "heads"
SECTION_IDS = "section_ids"
#: Metadata of an entry an ingest has written but not yet shown, or retired but not yet deleted:
#: ``False``. Readers leave such entries out (see the module's docstring).
PUBLISHED = "published"
#: Collection metadata while an ingest publishes a file's new version: the time it began.
PUBLISHING = "publishing"
#: A publishing mark older than this is taken to be left by a writer that died while publishing.
_PUBLISH_STALE_S = 10.0
#: How long a reader waits when it finds a knowledge base between a re-embedding's two renames.
_SWAP_WAIT_S = 0.5
Scalar = str | int | float | bool


@dataclass(frozen=True)
class SearchHit:
    """A retrieved chunk. ``score`` is cosine similarity clipped to [0, 1] (1 = same direction)."""

    id: str
    source: str
    title: str
    lang: str
    score: float
    text: str
    metadata: Mapping[str, Scalar] = field(default_factory=dict)

    @property
    def heading_of(self) -> int | None:
        """For a heading entry, the index of the chunk it heads; None for a chunk."""
        value = self.metadata.get(HEADING_OF)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def section_of(self) -> int | None:
        """For a section entry, the index of its first chunk; None for a chunk or a heading."""
        value = self.metadata.get(SECTION_OF)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def is_chunk(self) -> bool:
        """A passage, not an entry that only helps retrieval (a heading or a section entry)."""
        return is_passage(self.metadata)

    def to_dict(self) -> dict[str, Any]:
        # sorted: Chroma hands metadata back in no fixed key order, and the JSON should not vary
        extra = {k: v for k, v in sorted(self.metadata.items()) if k not in _HIT_FIELDS}
        return {
            "id": self.id,
            "source": self.source,
            "title": self.title,
            "lang": self.lang,
            "score": round(self.score, 4),
            "text": self.text,
            "metadata": extra,
        }

    def to_document(self) -> Document:
        """The hit as LangChain hands retrieved text on (for :class:`BaseRetriever` callers)."""
        return Document(
            id=self.id, page_content=self.text, metadata={**self.metadata, "id": self.id, "score": self.score}
        )


_HIT_FIELDS = frozenset({"source", "title", "lang", "score", "id"})


def is_passage(metadata: Mapping[str, Any] | None) -> bool:
    """Whether stored metadata is a chunk's: heading and section entries only help retrieval and
    are never shown, counted as passages or indexed for BM25."""
    return HEADING_OF not in (metadata or {}) and SECTION_OF not in (metadata or {})


def open_chroma_client(path: Path) -> ClientAPI:
    """A persistent Chroma client with telemetry off."""
    import chromadb
    from chromadb.config import Settings

    from babelrag.stores.locking import creation_lock

    try:
        with creation_lock(path):  # two processes creating one data directory race on its tables
            return chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
    except OSError as exc:
        raise StoreError(f"cannot open the store at {path}: {exc}") from exc


def collection_name(kb: str) -> str:
    return COLLECTION_PREFIX + kb


def _short(kb: str) -> str:
    """Chroma names are limited in length; a hash keeps work collections within it."""
    import hashlib

    return hashlib.sha256(kb.encode()).hexdigest()[:16]


def building_name(kb: str) -> str:
    """The collection a re-embedding fills before it takes the knowledge base's name."""
    return "kbnew-" + _short(kb)


def previous_name(kb: str) -> str:
    """The old collection for the moment between the two renames of a re-embedding."""
    return "kbold-" + _short(kb)


class KnowledgeStore:
    """Chunks of one knowledge base with their vectors and metadata.

    Opened without an embedder (``embedder=None``) it serves administration only (counts,
    sources, removing chunks): nothing that needs a query vector, and it cannot create a collection.
    """

    def __init__(
        self,
        *,
        client: ClientAPI,
        name: str,
        embedder: TextEmbedder | None,
        create: bool = True,
        collection: str | None = None,
        exclusive: bool = False,
    ) -> None:
        if create and embedder is None:
            raise ValueError("creating a knowledge base needs its embedder")
        self.client = client
        self.name = name
        self._collection_name = collection or collection_name(name)  # another only while re-embedding
        self._embedder = embedder
        self.collection = self._create_new() if exclusive else self._open(create)
        self._languages: tuple[str, Counter[str]] | None = None
        self._reading = threading.local()  # depth of consistent reads, per thread

    @property
    def embedder(self) -> TextEmbedder:
        if self._embedder is None:
            raise StoreError(f"knowledge base {self.name!r} was opened without its embedding model")
        return self._embedder

    def _open(self, create: bool) -> Collection:
        cname = self._collection_name
        existing = self._names()
        if cname not in existing and self._mid_swap(existing):
            # a re-embedding between its two renames: another process's that is about to finish
            # (wait for it), or one that stopped there (undo its first rename)
            time.sleep(_SWAP_WAIT_S)
            existing = self._names()
            if cname not in existing and self._mid_swap(existing):
                self.client.get_collection(previous_name(self.name)).modify(name=cname)
                existing.add(cname)
        if cname in existing:
            collection = self.client.get_collection(cname, embedding_function=None)
            if self._embedder is not None:
                self._check_embedder(collection.metadata or {})
            return collection
        if not create:
            raise StoreError(
                f"there is no knowledge base named {self.name!r}",
                hint=f"ingest documents first: babelrag ingest PATH --kb {self.name}",
            )
        try:
            return self._create()
        except Exception as exc:  # another process created it since we looked: use theirs
            if "already exists" not in str(exc):
                raise
            collection = self.client.get_collection(cname, embedding_function=None)
            self._check_embedder(collection.metadata or {})
            return collection

    def _create(self) -> Collection:
        return self.client.create_collection(
            self._collection_name,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={
                "embedder_id": self.embedder.model_id,
                "embedding_dim": self.embedder.dimension,
                "babelrag_schema": SCHEMA_VERSION,
                **_writer_stamp(),
            },
            embedding_function=None,
        )

    def _create_new(self) -> Collection:
        """Create the collection, or fail if any client has one of that name (creation is atomic
        on the server: of two processes racing, one gets this error)."""
        from chromadb.errors import ChromaError

        try:
            return self._create()
        except ChromaError as exc:
            if "already exists" not in str(exc):
                raise
            raise StoreError(
                f"collection {self._collection_name!r} of knowledge base {self.name!r} is being "
                "written by another process"
            ) from None

    def _names(self) -> set[str]:
        return {c.name for c in self.client.list_collections()}

    def _mid_swap(self, existing: set[str]) -> bool:
        return self._collection_name == collection_name(self.name) and previous_name(self.name) in existing

    def _check_embedder(self, meta: Mapping[str, Any]) -> None:
        stored_id, stored_dim = meta.get("embedder_id"), meta.get("embedding_dim")
        if stored_id == self.embedder.model_id and stored_dim == self.embedder.dimension:
            return
        raise EmbedderMismatchError(
            f"knowledge base {self.name!r} was built with the embedding model {stored_id!r} "
            f"({stored_dim} dimensions), but {self.embedder.model_id!r} "
            f"({self.embedder.dimension} dimensions) is configured",
            hint=_mismatch_hint(self.name, str(stored_id)),
        )

    # -- writing ---------------------------------------------------------------------------
    def upsert(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Scalar]],
        vectors: Sequence[Sequence[float]],
    ) -> None:
        for start, stop in self._batches(len(ids)):
            self.collection.upsert(
                ids=list(ids[start:stop]),
                documents=list(texts[start:stop]),
                metadatas=[dict(m) for m in metadatas[start:stop]],
                embeddings=np.asarray(vectors[start:stop], dtype=np.float32).tolist(),
            )
        self._changed(len(ids))

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[Mapping[str, Scalar]]) -> None:
        for start, stop in self._batches(len(ids)):
            self.collection.update(
                ids=list(ids[start:stop]), metadatas=[dict(m) for m in metadatas[start:stop]]
            )
        self._changed(len(ids))

    def publish(self, ids: Sequence[str], metadatas: Sequence[Mapping[str, Scalar]]) -> None:
        """:meth:`update_metadata` for the write that shows a file's new version and hides its old one:
        the collection is marked while it runs, so a reader that overlaps it reads again."""
        if not ids:
            return
        self.collection.modify(metadata={**self.metadata, PUBLISHING: time.time(), **_writer_stamp()})
        self.update_metadata(ids, metadatas)  # its new revision token clears the mark

    def consistent(self, read: Callable[[], T], *, attempts: int = 50) -> T:
        """``read()``, again while a publishing write overlapped it (the mark was up, or the revision
        token changed during it); after ``attempts`` the last result stands. Inside another
        consistent read (a retriever's several searches) it just reads: the outer one checks."""
        if getattr(self._reading, "depth", 0):
            return read()
        self._reading.depth = 1
        try:
            for attempt in range(attempts):
                before = self._read_token()
                if before is None:  # a writer is publishing: it takes milliseconds
                    time.sleep(0.002)
                    continue
                try:
                    result = read()
                except Exception as exc:
                    if attempt == attempts - 1 or not _raced_a_delete(exc):
                        raise
                    time.sleep(0.002)
                    continue
                if self._read_token() == before:
                    return result
            return read()
        finally:
            self._reading.depth = 0

    def _read_token(self) -> str | None:
        """The revision token, or None while a (live) writer is publishing."""
        meta = self._current().metadata or {}
        since = meta.get(PUBLISHING)
        if isinstance(since, int | float) and time.time() - since < _PUBLISH_STALE_S:
            return None
        return str(meta.get("revision", ""))

    def delete(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        for start, stop in self._batches(len(ids)):
            self.collection.delete(ids=ids[start:stop])
        self._changed(len(ids))

    def _changed(self, n: int) -> None:
        """A new revision token, written after the change it announces (so a reader that sees it
        also sees the change). ``modify`` replaces the metadata: the rest is carried over."""
        if n:
            meta = {k: v for k, v in self.metadata.items() if k != PUBLISHING}
            self.collection.modify(metadata={**meta, "revision": uuid.uuid4().hex, **_writer_stamp()})

    def revision(self) -> str:
        """A token that changes whenever any client changed this knowledge base's chunks.

        Asks the server each time (one small request). A collection replaced under the same name
        (re-embedded by another process) is adopted here, and checked against the embedder again.
        """
        current = self._current()
        meta = current.metadata or {}
        # knowledge bases written before revisions existed: the chunk count stands in until a write
        return str(meta.get("revision") or f"count:{current.count()}")

    def _current(self) -> Collection:
        """The collection under this knowledge base's name now (one small request), adopted if
        another process replaced it (re-embedded), or a clear error if it is gone."""
        from chromadb.errors import NotFoundError

        try:
            current = self.client.get_collection(self._collection_name, embedding_function=None)
        except NotFoundError:
            raise StoreError(
                f"knowledge base {self.name!r} is no longer there (removed, or being re-embedded "
                "by another process)",
                hint="see `babelrag kb list`; try again in a moment",
            ) from None
        if current.id != self.collection.id:
            if self._embedder is not None:
                self._check_embedder(current.metadata or {})
            self.collection = current
        return current

    def max_write(self) -> int:
        """The most entries one write takes (one write is atomic for readers)."""
        return max(1, min(self.client.get_max_batch_size(), 4096))

    def _batches(self, n: int) -> Iterable[tuple[int, int]]:
        size = self.max_write()
        return ((i, min(i + size, n)) for i in range(0, n, size))

    # -- reading ---------------------------------------------------------------------------
    def count(self) -> int:
        """Entries: chunks, heading and section entries (cheap; the chunks alone: :meth:`chunk_count`)."""
        return self.collection.count()

    def chunk_count(self) -> int:
        return self.count() - helper_entry_count(self.collection)

    def chunks_of(self, source: str) -> dict[str, dict[str, Scalar]]:
        """Existing entry ids of one source with their metadata, hidden ones too (for writers; a
        reader wants :meth:`passages_of`)."""
        got = self.collection.get(where={"source": source}, include=["metadatas"])
        return {i: dict(m or {}) for i, m in zip(got["ids"], got["metadatas"] or [], strict=False)}

    def chunks_of_sources(self, sources: Sequence[str]) -> dict[str, dict[str, dict[str, Scalar]]]:
        """:meth:`chunks_of` for many sources in one query per 500 (a dump is written in batches)."""
        out: dict[str, dict[str, dict[str, Scalar]]] = {}
        unique = list(dict.fromkeys(sources))
        for start in range(0, len(unique), 500):
            got = self.collection.get(
                where={"source": {"$in": unique[start : start + 500]}}, include=["metadatas"]
            )
            for cid, meta in zip(got["ids"], got["metadatas"] or [], strict=False):
                meta = dict(meta or {})
                out.setdefault(str(meta.get("source", "")), {})[cid] = meta
        return out

    def passages_of(self, source: str, *, headings: bool = False) -> list[SearchHit]:
        """The published chunks of one source as hits (score 0), in document order: all of its old
        version or all of its new one while an ingest rewrites it."""
        got = self.consistent(
            lambda: self.collection.get(where={"source": source}, include=["documents", "metadatas"])
        )
        hits = [
            _hit(cid, text, dict(meta or {}), 0.0)
            for cid, text, meta in zip(
                got["ids"], got["documents"] or [], got["metadatas"] or [], strict=False
            )
            if visible(meta) and (headings or is_passage(meta))
        ]
        return sorted(hits, key=lambda h: (str(h.metadata.get("doc", 0)), h.metadata.get("chunk", -1), h.id))

    def hits(self, ids: Sequence[str]) -> list[SearchHit]:
        """Stored chunks as hits (score 0: no query), in the order asked; missing ids are left out."""
        if not ids:
            return []
        got = self.collection.get(ids=list(ids), include=["documents", "metadatas"])
        found = {
            cid: _hit(cid, text or "", dict(meta or {}), 0.0)
            for cid, text, meta in zip(
                got["ids"], got["documents"] or [], got["metadatas"] or [], strict=False
            )
            if visible(meta)
        }
        return [found[i] for i in ids if i in found]

    def entries_with_vectors(self, ids: Sequence[str]) -> dict[str, tuple[SearchHit, list[float]]]:
        """Published entries by id with their stored vectors, in one read (missing ones left out)."""
        if not ids:
            return {}
        got = self.collection.get(ids=list(ids), include=["documents", "metadatas", "embeddings"])
        rows = zip(got["ids"], got["documents"] or [], got["metadatas"] or [], got["embeddings"], strict=True)
        return {
            cid: (_hit(cid, text, dict(meta or {}), 0.0), list(map(float, vec)))
            for cid, text, meta, vec in rows
            if visible(meta)
        }

    def neighbours(self, hit: SearchHit) -> tuple[str | None, str | None]:
        """The texts of the chunks just before and after ``hit`` in its document (None at an end)."""
        chunk = hit.metadata.get("chunk")
        if not isinstance(chunk, int):
            return None, None
        where = {
            "$and": [
                {"source": hit.source},
                {"doc": hit.metadata.get("doc", 0)},
                {"chunk": {"$in": [chunk - 1, chunk + 1]}},
            ]
        }
        got = self.collection.get(where=where, include=["documents", "metadatas"])
        texts = {
            (m or {}).get("chunk"): t
            for t, m in zip(got["documents"] or [], got["metadatas"] or [], strict=False)
            if visible(m)
        }
        return texts.get(chunk - 1), texts.get(chunk + 1)

    @property
    def metadata(self) -> Mapping[str, Any]:
        """The collection's own metadata: embedder id and dimension, schema version."""
        return self.collection.metadata or {}

    def iter_chunks(
        self, *, texts: bool = False, page: int = 5000, headings: bool = False, hidden: bool = False
    ) -> Iterator[tuple[str, str, dict[str, Scalar]]]:
        """Every published chunk as ``(id, text, metadata)``, read a page at a time (text is "" unless
        asked for); with ``headings`` the heading and section entries too, with ``hidden`` the
        unpublished ones."""
        include: list[Any] = ["documents", "metadatas"] if texts else ["metadatas"]
        for offset in range(0, self.count(), page):
            got = self.collection.get(include=include, limit=page, offset=offset)
            documents = got.get("documents") or [""] * len(got["ids"])
            for cid, text, meta in zip(got["ids"], documents, got["metadatas"] or [], strict=True):
                if (headings or is_passage(meta)) and (hidden or visible(meta)):
                    yield cid, text or "", dict(meta or {})

    def chunks_at(
        self, places: Iterable[tuple[str, Scalar, int]]
    ) -> dict[tuple[str, Scalar, int], SearchHit]:
        """The chunks at (source, doc, chunk) places, as hits with score 0 (absent places left out)."""
        places = list(dict.fromkeys(places))
        found: dict[tuple[str, Scalar, int], SearchHit] = {}
        for source, doc, chunk in places:
            where = {"$and": [{"source": source}, {"doc": doc}, {"chunk": chunk}]}
            got = self.collection.get(where=where, include=["documents", "metadatas"])
            rows = zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True)
            for cid, text, meta in rows:
                if visible(meta):
                    found[(source, doc, chunk)] = _hit(cid, text, dict(meta or {}), 0.0)
        return found

    def sources(self) -> Counter[str]:
        """Chunk counts per source."""
        return Counter(str(m.get("source", "")) for _, _, m in self.iter_chunks())

    def languages(self) -> Counter[str]:
        """Chunk counts per language: which languages the knowledge base holds.

        Read on every cross-lingual query, so remembered while the revision stays the same.
        """
        revision = self.revision()
        if self._languages is None or self._languages[0] != revision:
            counts = Counter(str(m.get("lang", "und")) for _, _, m in self.iter_chunks())
            self._languages = (revision, counts)
        return Counter(self._languages[1])

    def search(
        self, query: str, *, k: int = 5, lang: str | None = None, where: Mapping[str, Scalar] | None = None
    ) -> list[SearchHit]:
        """The k nearest chunks (heading and section entries left out; ``search_by_vector`` returns
        every entry)."""
        vector = self.embedder.embed_query(query)
        fetch = 2 * k + 4
        while True:
            hits = self.search_by_vector(vector, k=fetch, lang=lang, where=where)
            chunks = [hit for hit in hits if hit.is_chunk]
            if len(chunks) >= k or len(hits) < fetch:
                return chunks[:k]
            fetch *= 2

    def search_by_vector(
        self,
        vector: Sequence[float],
        *,
        k: int = 5,
        lang: str | None = None,
        where: Mapping[str, Scalar] | None = None,
    ) -> list[SearchHit]:
        if k < 1:
            raise StoreError(f"k must be at least 1, got {k}")
        # no count() first: it costs more than the query itself on large collections, and Chroma
        # returns fewer hits by itself when the collection holds fewer than k
        result = self.consistent(
            lambda: self.collection.query(
                query_embeddings=[list(vector)],
                n_results=k,
                where=build_where(lang=lang, where=where),
                include=["metadatas", "documents", "distances"],
            )
        )
        hits = []
        for cid, text, meta, dist in zip(
            result["ids"][0],
            result["documents"][0],
            result["metadatas"][0],
            result["distances"][0],
            strict=True,
        ):
            if visible(meta):  # hidden: an ingest's unpublished or retired entry
                hits.append(_hit(cid, text, dict(meta or {}), 1.0 - float(dist)))
        return hits

    def vectors_found(self, ids: Sequence[str]) -> dict[str, list[float]]:
        """Stored vectors of those of the given entries that are still there and published (a writer
        may have replaced some since a search returned them)."""
        if not ids:
            return {}
        got = self.collection.get(ids=list(ids), include=["embeddings", "metadatas"])
        rows = zip(got["ids"], got["embeddings"], got["metadatas"] or [{}] * len(got["ids"]), strict=True)
        return {cid: list(map(float, vec)) for cid, vec, meta in rows if visible(meta)}

    def vectors(self, ids: Sequence[str]) -> list[list[float]]:
        """Stored vectors of the given chunks, in the order asked."""
        if not ids:
            return []
        got = self.collection.get(ids=list(ids), include=["embeddings"])
        by_id = dict(zip(got["ids"], got["embeddings"], strict=True))
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise StoreError(f"chunks no longer in knowledge base {self.name!r}: {missing[:3]}")
        return [list(map(float, by_id[i])) for i in ids]

    def cosine_scores(self, vector: Sequence[float], ids: Sequence[str]) -> dict[str, float]:
        """Scores (as in :class:`SearchHit`) of given chunks against a query vector."""
        if not ids:
            return {}
        matrix = np.asarray(self.vectors(ids), dtype=np.float32)
        query = np.asarray(vector, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(query) or 1.0)
        sims = matrix @ query / np.where(norms == 0, 1.0, norms)
        return {cid: float(min(1.0, max(0.0, s))) for cid, s in zip(ids, sims, strict=True)}


def visible(meta: Mapping[str, Any] | None) -> bool:
    """Whether readers see an entry: all but those an ingest has not published yet or has retired,
    and those deleted since a query's index search found them (their records come back empty)."""
    return bool(meta) and meta.get(PUBLISHED, True) is not False


def _hit(cid: str, text: str | None, meta: dict[str, Scalar], similarity: float) -> SearchHit:
    return SearchHit(
        id=cid,
        source=str(meta.get("source", "")),
        title=str(meta.get("title", "")),
        lang=str(meta.get("lang", "und")),
        score=min(1.0, max(0.0, similarity)),
        text=text or "",
        metadata=meta,
    )


def _writer_stamp() -> dict[str, Scalar]:
    """Who wrote a collection last, and when: a re-embedding tells a live one from an abandoned one."""
    return {"writer": f"{socket.gethostname()}:{os.getpid()}", "updated_at": round(time.time(), 3)}


def _raced_a_delete(exc: BaseException) -> bool:
    """Chroma's "Error finding id": its index returned an entry that another process's write
    deleted before the row was read (seen with a search beside an ingest). Reading again sees
    the index as the writer left it."""
    return (type(exc).__module__ or "").startswith("chromadb") and "error finding id" in str(exc).lower()


def build_where(*, lang: str | None, where: Mapping[str, Scalar] | None) -> dict[str, Any] | None:
    clauses = [{key: value} for key, value in (where or {}).items()]
    if lang:
        clauses.append({"lang": lang})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _mismatch_hint(kb: str, stored_id: str) -> str:
    """How to get back to the stored embedder, or move the knowledge base to the configured one."""
    model, _, backend = stored_id.partition("@")
    back = f"set models.embedder back to {model!r} with models.embedding_backend = {backend or 'torch'!r}"
    return (
        f"{back}, or move the knowledge base to the configured embedder with "
        f"`babelrag kb reembed --kb {kb}` (from its stored text), or use another --kb"
    )


def helper_entry_count(collection: Collection) -> int:
    """How many heading and section entries a collection holds (its count less these: chunks)."""
    where: Any = {"$or": [{HEADING_OF: {"$gte": 0}}, {SECTION_OF: {"$gte": 0}}]}
    return len(collection.get(where=where, include=[])["ids"])
