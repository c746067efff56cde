"""A LangChain retriever over a :class:`KnowledgeStore`."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from babelrag.stores.knowledge_store import KnowledgeStore


class KnowledgeRetriever(BaseRetriever):
    """Top-k chunks by cosine similarity; each Document carries ``id``, ``score`` and the chunk metadata."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: KnowledgeStore
    k: int = Field(5, ge=1)
    lang: str | None = None
    where: dict[str, Any] | None = None
    min_score: float = Field(0.0, ge=0.0, le=1.0)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        hits = self.store.search(query, k=self.k, lang=self.lang, where=self.where)
        return [hit.to_document() for hit in hits if hit.score >= self.min_score]
