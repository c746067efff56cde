"""Moving a knowledge base to another embedding model, from the text it already stores.

No file is read again: every chunk's stored text is embedded with the new model into a new
collection. The old index stays as it was until the new one is complete; then the new collection
takes the knowledge base's name (two renames, and an interrupted swap is undone the next time the
knowledge base is opened) and the old one is deleted. An interrupted run leaves the old index in
use and starts over next time. Chunk fingerprints are rewritten for the new embedder, so an
unchanged file stays unchanged on the next ingest.

One re-embedding of a knowledge base at a time, also across processes sharing a Chroma server: the
new collection is created atomically (a second run fails to create it), and one found there is
taken over only when its writer is gone: a process of this host that no longer runs (or this very
process, interrupted earlier), or no write for :data:`ABANDONED_AFTER_S` from another host.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from babelrag.stores.chunking import Chunker
from babelrag.stores.context import contextual_text
from babelrag.stores.embeddings import TextEmbedder
from babelrag.stores.errors import StoreError
from babelrag.stores.ingest import settings_hash, with_settings_hash
from babelrag.stores.knowledge_store import (
    HEADING_OF,
    SWAPPED_FROM,
    KnowledgeStore,
    building_name,
    collection_name,
    previous_name,
)
from babelrag.stores.progress import NullProgress, Progress

if TYPE_CHECKING:
    from chromadb.api import ClientAPI


@dataclass(frozen=True)
class ReembedReport:
    kb: str
    chunks: int
    old_embedder: str | None
    new_embedder: str
    dimension: int
    seconds: float


def reembed(
    *,
    client: ClientAPI,
    kb: str,
    embedder: TextEmbedder,
    chunker: Chunker,
    batch_size: int = 16,
    progress: Progress | None = None,
    sections: bool = True,
) -> ReembedReport:
    """Re-embed every entry of ``kb`` with ``embedder``; ``chunker`` and ``sections`` (whether the
    ingest writes section entries) give the new fingerprints."""
    progress = progress or NullProgress()
    started = time.perf_counter()
    old = KnowledgeStore(client=client, name=kb, embedder=None, create=False)
    old_id = old.metadata.get("embedder_id")
    _take_over_abandoned(client, kb)  # a half-built index an interrupted run left (or refuse: busy)
    _drop(client, previous_name(kb))  # the old index, when a run was killed after the swap
    try:
        new = KnowledgeStore(
            client=client, name=kb, embedder=embedder, collection=building_name(kb), exclusive=True
        )
    except StoreError:
        raise _busy(kb, "it started just now") from None
    # a chunk keeps its header state: one built before headers existed keeps the fingerprint that
    # makes the next `ingest` of its file add them (that needs the file's headings, not stored)
    new_hash = {
        True: settings_hash(chunker, embedder.model_id, context=True, sections=sections),
        False: settings_hash(chunker, embedder.model_id, context=False),
    }
    total = old.count()
    with progress.task(f"re-embedding {kb} with {embedder.model_id}", total=total) as task:
        page: list[tuple[str, str, dict]] = []
        for chunk in old.iter_chunks(texts=True, headings=True):
            page.append(chunk)
            if len(page) == 512:
                _embed_page(new, page, new_hash, batch_size, task)
                page = []
        _embed_page(new, page, new_hash, batch_size, task)
    if new.count() != total:
        raise RuntimeError(f"re-embedding {kb}: {new.count()} of {total} chunks written")  # a bug, not input
    _swap(client, kb)
    return ReembedReport(
        kb, total, old_id, embedder.model_id, embedder.dimension, time.perf_counter() - started
    )


def _embed_page(
    new: KnowledgeStore, page: list[tuple[str, str, dict]], new_hash: dict[bool, str], batch_size: int, task
) -> None:
    page = sorted(page, key=lambda chunk: len(chunk[1]))  # similar lengths pad little in a batch
    for start in range(0, len(page), batch_size):
        batch = page[start : start + batch_size]
        vectors = new.embedder.embed_documents(
            [contextual_text(str(meta.get("context") or ""), text) for _, text, meta in batch]
        )
        metadatas = []
        for _, _, meta in batch:
            meta = dict(meta)
            if "fingerprint" in meta:
                meta["fingerprint"] = with_settings_hash(
                    str(meta["fingerprint"]), new_hash[bool(meta.get("context")) or HEADING_OF in meta]
                )
            metadatas.append(meta)
        new.upsert([cid for cid, _, _ in batch], [text for _, text, _ in batch], metadatas, vectors)
        task.advance(len(batch))


#: A re-embedding from another host that wrote nothing for this long is taken to have stopped
#: (it writes every embedding batch: seconds apart even with slow embedders on 2 cores).
ABANDONED_AFTER_S = 600


def _take_over_abandoned(client: ClientAPI, kb: str) -> None:
    """Drop what an interrupted run left, or refuse while another run is writing it."""
    name = building_name(kb)
    if name not in {c.name for c in client.list_collections()}:
        return
    meta = client.get_collection(name).metadata or {}
    host, _, pid = str(meta.get("writer") or "").rpartition(":")
    age = time.time() - float(meta.get("updated_at") or 0)
    if host == socket.gethostname() and pid.isdigit():
        abandoned = int(pid) == os.getpid() or not _running(int(pid))
    else:
        abandoned = age > ABANDONED_AFTER_S
    if not abandoned:
        raise _busy(kb, f"process {meta.get('writer')} wrote to it {age:.0f} s ago")
    client.delete_collection(name)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _busy(kb: str, detail: str) -> StoreError:
    return StoreError(
        f"knowledge base {kb!r} is being re-embedded by another process ({detail})",
        hint="wait for it to finish; the old index answers until then",
    )


def _swap(client: ClientAPI, kb: str) -> None:
    old = client.get_collection(collection_name(kb))
    # the old index says whose it was, in the same call that renames it: a crash before the second
    # rename leaves it findable (Catalog.list puts it back), since its new name is only a hash
    old.modify(name=previous_name(kb), metadata={**(old.metadata or {}), SWAPPED_FROM: kb})
    client.get_collection(building_name(kb)).modify(name=collection_name(kb))
    _drop(client, previous_name(kb))


def _drop(client: ClientAPI, name: str) -> None:
    if name in {c.name for c in client.list_collections()}:
        client.delete_collection(name)
