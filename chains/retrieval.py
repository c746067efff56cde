"""Cross-lingual retrieval: the query and its translations searched, merged by score, fused by rank.

The query and its translations are embedded by one model, so their cosines share a scale: a chunk
scores the best cosine any of them gives it (exact, over every chunk one of them fetched), and a
heading entry (``stores/context.py``) lends its cosine, less ``heading_margin``, to the chunk it
heads. On Debian Reference this beat reciprocal rank fusion of the same lists on every language and
query type (README "How well it works"). Lexical BM25 lists, on another scale, join by reciprocal
rank fusion. Each part (translation, headings, BM25) can be switched off, so its effect can be
measured. A hit's ``score`` is the score that ranked it in the dense list.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableConfig, RunnableLambda
from pydantic import ConfigDict, Field

from babelrag.chains.fusion import chunk_key, distinct, document_key, reciprocal_rank_fusion
from babelrag.chains.translate import Translator, translate_query, translation_targets
from babelrag.stores.errors import StoreError
from babelrag.stores.knowledge_store import KnowledgeStore, Scalar, SearchHit
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
    """Dense search of the query (+ translations, merged by score) (+ BM25, fused by rank)."""

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
    translation_weight: float = Field(1.0, ge=0.0)  # weight of translated-query BM25 lists in the fusion
    use_headings: bool = True  # heading entries stand for the chunk they head
    heading_margin: float = Field(0.02, ge=0.0, le=1.0)  # ... at this much less than their cosine
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
        found = {
            name: self.store.search_by_vector(vec, k=fetch, lang=self.lang, where=self.where)
            for name, vec in vectors.items()
        }
        ranked: dict[str, Sequence[SearchHit]] = {"dense": self._merge(found, vectors)}
        if self.use_lexical and self.lexical is not None:
            index = self.lexical()
            for name, text in queries.items():
                ranked[f"lexical:{name}"] = index.search(text, k=fetch, lang=self.lang, where=self.where)
        hits = distinct(ranked["dense"], key)[:k] if len(ranked) == 1 else self._fuse(ranked, vectors, k, key)
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

    def _merge(
        self, found: Mapping[str, Sequence[SearchHit]], vectors: Mapping[str, Sequence[float]]
    ) -> list[SearchHit]:
        """Chunks by their best exact cosine to any query vector, headings lending theirs (less the
        margin) to the chunk they head; ``matched_by`` names the queries that fetched each chunk."""
        entries = {hit.id: hit for hits in found.values() for hit in hits}
        if not entries:
            return []
        fetched_by: dict[str, list[str]] = {}
        for name, hits in found.items():
            for hit in hits:
                fetched_by.setdefault(hit.id, []).append(name)
        best = self._best_cosines(list(entries), vectors)
        chunks: dict[Hashable, SearchHit] = {}
        scores: dict[Hashable, float] = {}
        via: dict[Hashable, list[str]] = {}
        headed: dict[tuple[str, Scalar, int], tuple[float, list[str]]] = {}
        for cid, hit in entries.items():
            if hit.heading_of is not None:
                if self.use_headings:
                    place = (hit.source, hit.metadata.get("doc", 0), hit.heading_of)
                    score = best[cid] - self.heading_margin
                    if score > headed.get(place, (-2.0, []))[0]:
                        headed[place] = (score, [f"heading:{n}" for n in fetched_by[cid]])
                continue
            place = (hit.source, hit.metadata.get("doc", 0), int(hit.metadata.get("chunk", 0) or 0))
            chunks[place], scores[place], via[place] = hit, best[cid], fetched_by[cid]
        missing = [place for place in headed if place not in chunks]
        chunks.update(self.store.chunks_at(missing) if missing else {})
        for place, (score, names) in headed.items():
            if place in chunks and score > scores.get(place, -2.0):
                scores[place] = score
                via[place] = [*via.get(place, []), *names]
        merged = [
            replace(
                hit,
                score=min(1.0, max(0.0, scores[place])),
                metadata={**hit.metadata, "matched_by": ",".join(sorted(set(via[place])))},
            )
            for place, hit in chunks.items()
            if place in scores
        ]
        return sorted(merged, key=lambda h: (-h.score, h.id))

    def _best_cosines(self, ids: list[str], vectors: Mapping[str, Sequence[float]]) -> dict[str, float]:
        matrix = np.asarray(self.store.vectors(ids), dtype=np.float32)
        queries = np.asarray(list(vectors.values()), dtype=np.float32)
        matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        queries /= np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
        return dict(zip(ids, (matrix @ queries.T).max(axis=1).tolist(), strict=True))

    def _fuse(
        self,
        ranked: Mapping[str, Sequence[SearchHit]],
        vectors: Mapping[str, Sequence[float]],
        k: int,
        key: Any,
    ) -> list[SearchHit]:
        """RRF of the dense list and the BM25 lists; a hit keeps its dense score, or gets its best
        cosine when only BM25 found it."""
        weights = {name: self.translation_weight for name in ranked if "translation:" in name}
        fused = reciprocal_rank_fusion(ranked, k=self.rrf_k, weights=weights, key=key)[:k]
        dense = {hit.id: hit for hit in ranked["dense"]}
        lexical_only = [f.hit.id for f in fused if f.hit.id not in dense]
        cosines = self._best_cosines(lexical_only, vectors) if lexical_only else {}
        out = []
        for f in fused:
            hit = dense.get(f.hit.id) or replace(f.hit, score=min(1.0, max(0.0, cosines[f.hit.id])))
            dense_via = str(hit.metadata.get("matched_by", "")).split(",")
            lists = {n for n in f.ranks if n != "dense"} | set(dense_via)
            metadata = {**hit.metadata, "rrf": round(f.rrf, 5), "matched_by": ",".join(sorted(lists - {""}))}
            out.append(replace(hit, metadata=metadata))
        return out
