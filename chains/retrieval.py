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
from pydantic import ConfigDict, Field

from babelrag.chains.fusion import reciprocal_rank_fusion
from babelrag.chains.translate import Translator, translate_query, translation_targets
from babelrag.stores.knowledge_store import KnowledgeStore, Scalar, SearchHit
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

    def retrieve(self, query: str, *, query_lang: str | None = None) -> RetrievalResult:
        timings: dict[str, float] = {}
        lang = query_lang or self.detect_language(query)
        translations: dict[str, str] = {}
        if self.use_translation and self.translator is not None:
            started = time.perf_counter()
            targets = translation_targets(
                lang, self._kb_languages(), configured=self.target_languages, max_targets=self.max_targets
            )
            translations = translate_query(
                self.translator, query, lang, targets, detect_language=self.detect_language
            )
            timings["translate_s"] = time.perf_counter() - started

        started = time.perf_counter()
        embedder = self.store.embedder
        queries = {"original": query, **{f"translation:{t}": text for t, text in translations.items()}}
        vectors = dict(zip(queries, _embed_queries(embedder, list(queries.values())), strict=True))
        fetch = max(self.fetch_k, self.k)
        ranked: dict[str, Sequence[SearchHit]] = {
            name: self.store.search_by_vector(vec, k=fetch, lang=self.lang, where=self._where())
            for name, vec in vectors.items()
        }
        if self.use_lexical and self.lexical is not None:
            index = self.lexical()
            for name, text in queries.items():
                ranked[f"lexical:{name}"] = index.search(text, k=fetch, lang=self.lang, where=self._where())
        if len(ranked) == 1:
            hits = list(ranked["original"])[: self.k]
        else:
            weights = {name: self.translation_weight for name in ranked if "translation:" in name}
            fused = reciprocal_rank_fusion(ranked, k=self.rrf_k, weights=weights)[: self.k]
            cosines = self.store.cosine_scores(vectors["original"], [f.hit.id for f in fused])
            hits = [
                replace(
                    f.hit,
                    score=cosines.get(f.hit.id, f.hit.score),
                    metadata={
                        **f.hit.metadata,
                        "rrf": round(f.rrf, 5),
                        "matched_by": ",".join(sorted(f.ranks)),
                    },
                )
                for f in fused
            ]
        timings["retrieve_s"] = time.perf_counter() - started
        return RetrievalResult(query, lang, hits, translations, timings)

    def _kb_languages(self) -> Mapping[str, int]:
        return self.store.languages()

    def _where(self) -> Mapping[str, Scalar] | None:
        return self.where

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [hit.to_document() for hit in self.retrieve(query).hits]


def _embed_queries(embedder: Any, texts: list[str]) -> list[list[float]]:
    batch = getattr(embedder, "embed_queries", None)
    return batch(texts) if batch else [embedder.embed_query(t) for t in texts]
