"""Cross-lingual retrieval: the query and its translations searched, fused by rank.

Each mode (translated queries, lexical BM25) can be switched off, so its effect can be
measured. Every returned hit's ``score`` is the cosine similarity to the *original* query,
whichever list found it; fusion decides the order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableConfig, RunnableLambda
from pydantic import ConfigDict, Field

from babelrag.chains.fusion import (
    chunk_key,
    distinct,
    document_key,
    group_languages,
    reciprocal_rank_fusion,
)
from babelrag.chains.translate import Translator, translate_query, translation_targets
from babelrag.stores.errors import StoreError
from babelrag.stores.knowledge_store import KnowledgeStore, SearchHit
from babelrag.stores.langdetect import UNDETERMINED
from babelrag.stores.lexical import BM25Index


@dataclass
class RetrievalResult:
    query: str
    query_lang: str
    hits: list[SearchHit]
    translations: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


class CrossLingualRetriever(BaseRetriever):
    """Dense search of the query (+ translations) (+ BM25), fused with reciprocal rank fusion."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: KnowledgeStore
    detect_language: Callable[[str], str]
    translator: Translator | None = None
    lexical: Callable[[], BM25Index] | None = None  # built lazily: only when lexical mode is on
    use_translation: bool = True
    use_lexical: bool = False
    k: int = Field(5, ge=1)
    fetch_k: int = Field(20, ge=1)
    rrf_k: int = Field(60, ge=0)
    translation_weight: float = Field(1.0, ge=0.0)  # weight of translated-query lists in the fusion
    target_languages: tuple[str, ...] = ()
    max_targets: int = 3
    lang: str | None = None
    where: dict[str, Any] | None = None
    # one hit per document (its best chunk), lists fused over documents; False: raw chunks
    group_documents: bool = False

    def retrieve(self, query: str, *, query_lang: str | None = None) -> RetrievalResult:
        """Hits with the translations and timings that produced them; a traced chain step."""
        step = RunnableLambda(self._retrieve, name="cross_lingual_retrieve")
        return step.invoke({"query": query, "query_lang": query_lang})

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        query_lang: str | None = None,
    ) -> list[Document]:
        """The LangChain face: ``retriever.invoke(query, k=3)`` gives Documents with ``score`` metadata."""
        request = {"query": query, "query_lang": query_lang, "k": k}
        result = self._retrieve(request, {"callbacks": run_manager.get_child()})
        return [hit.to_document() for hit in result.hits]

    def _retrieve(self, request: Mapping[str, Any], config: RunnableConfig | None = None) -> RetrievalResult:
        query: str = request["query"]
        k = self.k if request.get("k") is None else int(request["k"])
        if k < 1:
            raise StoreError(f"k must be at least 1, got {k}")
        timings: dict[str, float] = {}
        translating = self.use_translation and self.translator is not None
        lang = request.get("query_lang") or (self.detect_language(query) if translating else UNDETERMINED)
        translations: dict[str, str] = {}
        if translating:
            started = time.perf_counter()
            translations = RunnableLambda(self._translate, name="translate").invoke(
                {"query": query, "lang": lang}, config
            )
            timings["translate_s"] = time.perf_counter() - started

        started = time.perf_counter()
        queries = {"original": query, **{f"translation:{t}": text for t, text in translations.items()}}
        vectors = dict(zip(queries, self.store.embedder.embed_queries(list(queries.values())), strict=True))
        key = document_key if self.group_documents else chunk_key
        fetch = max(self.fetch_k, 3 * k if self.group_documents else k)  # documents hold several chunks
        ranked: dict[str, Sequence[SearchHit]] = {
            name: self.store.search_by_vector(vec, k=fetch, lang=self.lang, where=self.where)
            for name, vec in vectors.items()
        }
        if self.use_lexical and self.lexical is not None:
            index = self.lexical()
            for name, text in queries.items():
                ranked[f"lexical:{name}"] = index.search(text, k=fetch, lang=self.lang, where=self.where)
        if len(ranked) == 1:
            hits = self._grouped(distinct(ranked["original"], key), query, lang)[:k]
        else:
            hits = self._fuse(ranked, vectors["original"], k, key, query, lang)
        timings["retrieve_s"] = time.perf_counter() - started
        return RetrievalResult(query, lang, hits, translations, timings)

    def _translate(self, request: Mapping[str, str]) -> dict[str, str]:
        assert self.translator is not None
        targets = translation_targets(
            request["lang"],
            self.store.languages(),
            configured=self.target_languages,
            max_targets=self.max_targets,
        )
        return translate_query(
            self.translator, request["query"], request["lang"], targets, detect_language=self.detect_language
        )

    def _grouped(self, hits: list[SearchHit], query: str, lang: str) -> list[SearchHit]:
        """Language versions of one entity as one hit (documents only: ``--chunks`` shows all)."""
        if not self.group_documents:
            return hits
        known = lang if lang != UNDETERMINED else None
        return group_languages(hits, lang=lambda: known or self.detect_language(query))

    def _fuse(
        self,
        ranked: Mapping[str, Sequence[SearchHit]],
        original: Sequence[float],
        k: int,
        key: Any,
        query: str,
        lang: str,
    ) -> list[SearchHit]:
        """RRF order; each hit's score is its cosine to the original query, whichever list found it."""
        weights = {name: self.translation_weight for name in ranked if "translation:" in name}
        fused = reciprocal_rank_fusion(ranked, k=self.rrf_k, weights=weights, key=key)
        hits = [
            replace(
                f.hit,
                metadata={**f.hit.metadata, "rrf": round(f.rrf, 5), "matched_by": ",".join(sorted(f.ranks))},
            )
            for f in fused
        ]
        hits = self._grouped(hits, query, lang)[:k]
        cosines = self.store.cosine_scores(original, [h.id for h in hits])
        return [replace(h, score=cosines.get(h.id, h.score)) for h in hits]
