"""Reciprocal rank fusion (Cormack et al., 2009) of several ranked lists of hits.

Our own rather than LangChain's ``EnsembleRetriever``: results keep which lists found each hit and
at what rank (``matched_by``, shown to users and used in evaluation), and the lists fused are ones
already computed (one embedding batch for the query and its translations), not retrievers to call.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from babelrag.stores.knowledge_store import SearchHit


@dataclass
class FusedHit:
    hit: SearchHit
    rrf: float = 0.0
    ranks: dict[str, int] = field(default_factory=dict)  # list name -> 1-based rank


def chunk_key(hit: SearchHit) -> Hashable:
    return hit.id


def document_key(hit: SearchHit) -> Hashable:
    """The document a chunk belongs to: its file and its index in the file (a JSONL line, …)."""
    return (hit.source, hit.metadata.get("doc", 0))


def distinct(
    hits: Iterable[SearchHit], key: Callable[[SearchHit], Hashable] = document_key
) -> list[SearchHit]:
    """The first (best-ranked) hit of each key, in order."""
    seen: set[Hashable] = set()
    out = []
    for hit in hits:
        if (group := key(hit)) not in seen:
            seen.add(group)
            out.append(hit)
    return out


def reciprocal_rank_fusion(
    ranked: Mapping[str, Sequence[SearchHit]],
    *,
    k: int = 60,
    weights: Mapping[str, float] | None = None,
    key: Callable[[SearchHit], Hashable] = chunk_key,
) -> list[FusedHit]:
    """Fuse lists by sum of weight/(k + rank), deduplicated by ``key`` (weights default to 1).

    With :func:`document_key` a document is ranked once per list, at its best chunk, and the
    fused hit is its best-scoring chunk: fusion over documents, as over chunks. Ties are broken by
    the best cosine score, then by id, so the order is deterministic.
    """
    if k < 0:
        raise ValueError(f"RRF k must be >= 0, got {k}")
    fused: dict[Hashable, FusedHit] = {}
    for name, hits in ranked.items():
        for rank, hit in enumerate(distinct(hits, key), 1):
            entry = fused.setdefault(key(hit), FusedHit(hit))
            entry.rrf += (weights or {}).get(name, 1.0) / (k + rank)
            entry.ranks[name] = rank
            if hit.score > entry.hit.score:
                entry.hit = hit
    return sorted(fused.values(), key=lambda f: (-f.rrf, -f.hit.score, f.hit.id))
