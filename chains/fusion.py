"""Reciprocal rank fusion (Cormack et al., 2009) of several ranked lists of hits.

Our own rather than LangChain's ``EnsembleRetriever``: results keep which lists found each hit and
at what rank (``matched_by``, shown to users and used in evaluation), and the lists fused are ones
already computed (one embedding batch for the query and its translations), not retrievers to call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from babelrag.stores.knowledge_store import SearchHit


@dataclass
class FusedHit:
    hit: SearchHit
    rrf: float = 0.0
    ranks: dict[str, int] = field(default_factory=dict)  # list name -> 1-based rank


def reciprocal_rank_fusion(
    ranked: Mapping[str, Sequence[SearchHit]], *, k: int = 60, weights: Mapping[str, float] | None = None
) -> list[FusedHit]:
    """Fuse lists by sum of weight/(k + rank), deduplicated by chunk id (weights default to 1).

    Ties are broken by the best cosine score, then by id, so the order is deterministic.
    """
    if k < 0:
        raise ValueError(f"RRF k must be >= 0, got {k}")
    fused: dict[str, FusedHit] = {}
    for name, hits in ranked.items():
        seen: set[str] = set()
        for rank, hit in enumerate(hits, 1):
            if hit.id in seen:
                continue
            seen.add(hit.id)
            entry = fused.setdefault(hit.id, FusedHit(hit))
            entry.rrf += (weights or {}).get(name, 1.0) / (k + rank)
            entry.ranks[name] = rank
            if hit.score > entry.hit.score:
                entry.hit = hit
    return sorted(fused.values(), key=lambda f: (-f.rrf, -f.hit.score, f.hit.id))
