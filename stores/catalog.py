"""The knowledge bases of one Chroma client: list, describe, drop, without an embedding model.

Administration must stay fast (``babelrag kb list`` should not wait seconds for a model to load) and
must work when the configured embedder differs from the one a knowledge base was built with: that
is when a user most needs to see what is there.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from babelrag.stores.errors import StoreError
from babelrag.stores.knowledge_store import (
    COLLECTION_PREFIX,
    SWAPPED_FROM,
    KnowledgeStore,
    collection_name,
    helper_entry_count,
)

if TYPE_CHECKING:
    from chromadb.api import ClientAPI


@dataclass(frozen=True)
class KnowledgeBaseInfo:
    name: str
    chunks: int
    embedder_id: str | None
    dimension: int | None
    languages: Counter[str]
    sources: Counter[str]

    def to_dict(self) -> dict[str, Any]:
        """The ``kb info --json`` contract."""
        return {
            "kb": self.name,
            "chunks": self.chunks,
            "embedder": self.embedder_id,
            "languages": dict(self.languages.most_common()),
            "sources": dict(sorted(self.sources.items())),
        }


class Catalog:
    """Knowledge bases in a Chroma client; ``client=None`` is a data directory with none yet."""

    def __init__(self, client: ClientAPI | None) -> None:
        self.client = client

    def list(self) -> dict[str, int]:
        """Knowledge base names and their chunk counts."""
        return {
            col.name.removeprefix(COLLECTION_PREFIX): col.count() - helper_entry_count(col)
            for col in self._collections()
        }

    def names(self) -> set[str]:
        """Knowledge base names, without counting anything (one request, however many there are)."""
        return {col.name.removeprefix(COLLECTION_PREFIX) for col in self._collections()}

    def _collections(self) -> list[Any]:
        if self.client is None:
            return []
        self._finish_interrupted_swaps()
        return [col for col in self.client.list_collections() if col.name.startswith(COLLECTION_PREFIX)]

    def _finish_interrupted_swaps(self) -> None:
        """A re-embedding killed between its two renames left the old index under a work name:
        opening the knowledge base by name puts it back (see ``KnowledgeStore``)."""
        assert self.client is not None
        names = {c.name: c for c in self.client.list_collections()}
        for name, col in names.items():
            kb = (col.metadata or {}).get(SWAPPED_FROM) if name.startswith("kbold-") else None
            if isinstance(kb, str) and collection_name(kb) not in names:
                KnowledgeStore(client=self.client, name=kb, embedder=None, create=False)

    def open(self, name: str) -> KnowledgeStore:
        """The knowledge base for administration: counts, sources, removing chunks; no search."""
        if self.client is None or name not in self.names():
            raise StoreError(f"there is no knowledge base named {name!r}", hint="see `babelrag kb list`")
        return KnowledgeStore(client=self.client, name=name, embedder=None, create=False)

    def info(self, name: str) -> KnowledgeBaseInfo:
        store = self.open(name)
        meta = store.metadata
        return KnowledgeBaseInfo(
            name=name,
            chunks=store.chunk_count(),
            embedder_id=meta.get("embedder_id"),
            dimension=meta.get("embedding_dim"),
            languages=store.languages(),
            sources=store.sources(),
        )

    def drop(self, name: str) -> None:
        """Delete a knowledge base's chunks and vectors (the user's files are not touched)."""
        self.open(name)  # a clear error for a name that is not there
        assert self.client is not None
        self.client.delete_collection(collection_name(name))
