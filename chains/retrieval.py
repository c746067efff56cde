"""Cross-lingual retrieval: the query and its translations searched, merged by mean cosine.

Each query version (the question, each translation) fetches chunks, and every chunk any of them
found is scored against every version by exact cosine; a heading entry (``stores/context.py``)
lends its cosine, less ``heading_margin``, to the chunk it heads: a short query that names a
section then finds it (Debian Reference titles, README "How well it works"). A chunk's score also
counts its whole section (a section entry, ``stores/context.py``): (chunk + w x section cosine) /
(1 + w), so a chunk of the section that is about the query outranks one that only shares a few of
its words; a section entry that a search finds brings its chunks in. The chunks are ranked by
their mean score over the versions, translations weighted (``merge="mean"``, the default): the
ranking of the versions' weighted centroid, so agreement between the question and its translation
counts, and by how much. A passage in the question's own language that only the question likes
(high cosine for the question, low for the translation) does not outrank the answer both like,
which a best-cosine merge lets happen, and one wrong translation costs less than in a rank fusion
of two lists, where a passage both rank middling outranks the one that a list ranks first.
``merge="rank"`` fuses the versions' lists by reciprocal rank instead (the earlier default). BM25
lists, when lexical search is on, are fused with the dense ranking by reciprocal rank. Each part
(translation, headings, sections, BM25) can be switched off, so its effect can be measured. A
hit's ``score`` is its best score for any version.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
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
from babelrag.stores.context import MAX_SECTION_IDS
from babelrag.stores.errors import StoreError
from babelrag.stores.knowledge_store import (
    HEADS,
    SECTION,
    SECTION_CHUNKS,
    SECTION_IDS,
    KnowledgeStore,
    Scalar,
    SearchHit,
)
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
    translation_weight: float = Field(1.0, ge=0.0)  # weight of translated queries in the mean or rank fusion
    merge: Literal["mean", "rank"] = "mean"  # how the query versions' dense rankings are combined
    use_headings: bool = True  # heading entries stand for the chunk they head
    heading_margin: float = Field(0.02, ge=0.0, le=1.0)  # ... at this much less than their cosine
    # a chunk scores (its cosine + w x its section's) / (1 + w); 0: the chunk alone
    section_weight: float = Field(0.25, ge=0.0)
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

        def read() -> dict[str, list[SearchHit]]:  # several store reads: again if a file was published
            found = {
                name: self.store.search_by_vector(vec, k=fetch, lang=self.lang, where=self.where)
                for name, vec in vectors.items()
            }
            return self._dense_lists(found, vectors)

        ranked: dict[str, Sequence[SearchHit]] = dict(self.store.consistent(read))
        if self.use_lexical and self.lexical is not None:
            index = self.lexical()
            for name, text in queries.items():
                ranked[f"lexical:{name}"] = index.search(text, k=fetch, lang=self.lang, where=self.where)
        if len(ranked) == 1 and "original" in ranked:  # one query, no fusion (merged versions: rrf kept)
            hits = self._grouped(distinct(next(iter(ranked.values())), key), query, lang)[:k]
        else:
            hits = self._fuse(ranked, vectors, k, key, query, lang)
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

    def _dense_lists(
        self, found: Mapping[str, Sequence[SearchHit]], vectors: Mapping[str, Sequence[float]]
    ) -> dict[str, list[SearchHit]]:
        """Each query version's list of the chunks it fetched, by exact cosine, a heading lending its
        cosine (less the margin) to the chunk it heads; ``matched_by`` says ``heading:NAME`` where a
        heading ranked a chunk. With ``merge="mean"`` and several versions, one list instead: every
        chunk any version fetched, by its mean score over all versions."""
        entries = {hit.id: hit for hits in found.values() for hit in hits}
        cosines = self._cosines(list(entries), vectors)
        chunks: dict[tuple[str, Scalar, int], SearchHit] = {}
        heads: dict[tuple[str, Scalar, int], list[str]] = {}
        spans: dict[str, tuple[str, Scalar, int, int]] = {}  # section entry -> its chunks
        for cid, hit in entries.items():
            if cid not in cosines:  # gone since the search: a writer replaced it
                continue
            if hit.is_chunk:
                chunks[_place(hit)] = hit
            elif hit.heading_of is not None:
                if self.use_headings:
                    heads.setdefault(_place(hit, hit.heading_of), []).append(cid)
            elif hit.section_of is not None and self.section_weight > 0:
                first = hit.section_of
                size = hit.metadata.get(SECTION_CHUNKS)
                end = first + (min(size, MAX_SECTION_IDS) if isinstance(size, int) and size > 0 else 1)
                spans[cid] = (hit.source, hit.metadata.get("doc", 0), first, end)
        # what the found entries stand for, read by id in one go: the chunk a heading heads, the
        # chunks of a section found whole (the best of them is ranked), the sections of the chunks
        wanted: dict[str, None] = {}
        by_place: list[tuple[str, Scalar, int]] = []  # heading entries from before they named their chunk
        for place, ids in heads.items():
            if place not in chunks:
                target = entries[ids[0]].metadata.get(HEADS)
                if target:
                    wanted[str(target)] = None
                else:
                    by_place.append(place)
        for cid, span in spans.items():
            if not all(p in chunks for p in _places(span)):
                named = str(entries[cid].metadata.get(SECTION_IDS) or "").split(",")[:MAX_SECTION_IDS]
                wanted.update(dict.fromkeys(i for i in named if i))
        if self.section_weight > 0:
            wanted.update(
                dict.fromkeys(str(h.metadata[SECTION]) for h in chunks.values() if h.metadata.get(SECTION))
            )
        extra = self._read(list(wanted), vectors, cosines)
        if by_place:
            extra.extend(self.store.chunks_at(by_place).values())
        for hit in extra:
            if hit.is_chunk and _place(hit) not in chunks:
                chunks[_place(hit)] = hit
        self._read([hit.id for hit in extra if hit.id not in cosines], vectors, cosines)
        sections: dict[tuple[str, Scalar, int], str] = {}
        if self.section_weight > 0:
            sections = {
                place: str(hit.metadata[SECTION])
                for place, hit in chunks.items()
                if hit.metadata.get(SECTION)
            }
            self._read([sid for sid in set(sections.values()) if sid not in cosines], vectors, cosines)
        fetched_by = {
            name: {
                place
                for h in hits
                for place in (
                    _places(spans[h.id])
                    if h.id in spans
                    else [_place(h) if h.heading_of is None else _place(h, h.heading_of)]
                )
            }
            for name, hits in found.items()
        }
        w = self.section_weight
        table: dict[tuple[str, Scalar, int], dict[str, tuple[float, str]]] = {}
        for place, hit in chunks.items():
            if hit.id not in cosines:
                continue
            # the section's cosine; a chunk that is its whole section (no entry) stands for it
            whole = cosines.get(sections.get(place, hit.id), cosines[hit.id])
            row = {}
            for name in vectors:
                score, via = cosines[hit.id][name], name
                for head in heads.get(place, ()):
                    if (lent := cosines[head][name] - self.heading_margin) > score:
                        score, via = lent, f"heading:{name}"
                score = (score + w * whole[name]) / (1 + w)
                row[name] = (min(1.0, max(0.0, score)), via)
            table[place] = row

        def scored(place: tuple[str, Scalar, int], score: float, via: str, **extra: Scalar) -> SearchHit:
            hit = chunks[place]
            return replace(hit, score=score, metadata={**hit.metadata, "matched_by": via, **extra})

        if self.merge == "mean" and len(found) > 1:
            weight = {n: self.translation_weight if n.startswith("translation:") else 1.0 for n in vectors}
            merged = []
            for place, row in table.items():
                mean = sum(weight[n] * score for n, (score, _) in row.items()) / sum(weight.values())
                via = ",".join(row[n][1] for n in found if place in fetched_by[n])
                best = max(score for score, _ in row.values())
                merged.append((mean, scored(place, best, via, mean=round(mean, 5))))
            merged.sort(key=lambda pair: (-pair[0], -pair[1].score, pair[1].id))
            return {"dense": [hit for _, hit in merged]}
        lists: dict[str, list[SearchHit]] = {}
        for name in found:
            hits = [scored(place, *table[place][name]) for place in fetched_by[name] & table.keys()]
            lists[name] = sorted(hits, key=lambda h: (-h.score, h.id))
        return lists

    def _read(
        self, ids: list[str], vectors: Mapping[str, Sequence[float]], cosines: dict[str, dict[str, float]]
    ) -> list[SearchHit]:
        """Entries by id, one store read: their hits returned, their cosines added to ``cosines``."""
        found = self.store.entries_with_vectors(ids) if ids else {}
        cosines.update(_cosine_table({cid: vec for cid, (_, vec) in found.items()}, vectors))
        return [hit for hit, _ in found.values()]

    def _cosines(self, ids: list[str], vectors: Mapping[str, Sequence[float]]) -> dict[str, dict[str, float]]:
        """Each entry's cosine to each query vector; entries deleted since the search are left out."""
        return _cosine_table(self.store.vectors_found(ids), vectors)

    def _fuse(
        self,
        ranked: Mapping[str, Sequence[SearchHit]],
        vectors: Mapping[str, Sequence[float]],
        k: int,
        key: Any,
        query: str,
        lang: str,
    ) -> list[SearchHit]:
        """Reciprocal rank fusion of every list (translated queries weighted): a hit keeps its best
        dense score, or gets its best cosine when only BM25 found it."""
        weights = {name: self.translation_weight for name in ranked if "translation:" in name}
        fused = reciprocal_rank_fusion(ranked, k=self.rrf_k, weights=weights, key=key)
        via: dict[Hashable, dict[str, str]] = {}
        best: dict[Hashable, SearchHit] = {}
        for name, hits in ranked.items():
            for hit in distinct(hits, key):
                via.setdefault(key(hit), {})[name] = str(hit.metadata.get("matched_by") or name)
                if not name.startswith("lexical:") and (
                    key(hit) not in best or hit.score > best[key(hit)].score
                ):
                    best[key(hit)] = hit
        out = []
        for f in fused:
            group = key(f.hit)
            hit = best.get(group, f.hit)
            names = ",".join(sorted(via[group][name] for name in f.ranks))
            out.append(replace(hit, metadata={**hit.metadata, "rrf": round(f.rrf, 5), "matched_by": names}))
        out = self._grouped(out, query, lang)[:k]  # language versions grouped before the cut to k
        lexical_only = [hit.id for hit in out if key(hit) not in best]
        cosines = self._cosines(lexical_only, vectors) if lexical_only else {}
        return [
            replace(hit, score=min(1.0, max(0.0, max(cosines[hit.id].values()))))
            if hit.id in cosines
            else hit
            for hit in out
        ]


def _cosine_table(
    found: Mapping[str, Sequence[float]], vectors: Mapping[str, Sequence[float]]
) -> dict[str, dict[str, float]]:
    """Each stored vector's cosine to each query vector."""
    if not found:
        return {}
    matrix = np.asarray(list(found.values()), dtype=np.float32)
    queries = np.asarray(list(vectors.values()), dtype=np.float32)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    queries /= np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    sims = (matrix @ queries.T).tolist()
    return {cid: dict(zip(vectors, row, strict=True)) for cid, row in zip(found, sims, strict=True)}


def _places(span: tuple[str, Scalar, int, int]) -> list[tuple[str, Scalar, int]]:
    """The places of a section's chunks."""
    source, doc, first, end = span
    return [(source, doc, index) for index in range(first, end)]


def _place(hit: SearchHit, chunk: int | None = None) -> tuple[str, Scalar, int]:
    """Where a chunk is: its file, its document in the file, its index in the document."""
    index = chunk if chunk is not None else int(hit.metadata.get("chunk", 0) or 0)
    return (hit.source, hit.metadata.get("doc", 0), index)
