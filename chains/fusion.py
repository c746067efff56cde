"""Reciprocal rank fusion (Cormack et al., 2009) of several ranked lists of hits.

Our own rather than LangChain's ``EnsembleRetriever``: results keep which lists found each hit and
at what rank (``matched_by``, shown to users and used in evaluation), and the lists fused are ones
already computed (one embedding batch for the query and its translations), not retrievers to call.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

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


def entity_key(hit: SearchHit) -> Hashable | None:
    """The entity a hit describes (``wikidata:Q64``), shared by its language versions; None if unknown."""
    entity = hit.metadata.get("entity")
    return entity if isinstance(entity, str) and entity else None


def group_languages(
    hits: Sequence[SearchHit],
    *,
    lang: str | Callable[[], str],
    key: Callable[[SearchHit], Hashable | None] = entity_key,
) -> list[SearchHit]:
    """One hit per entity instead of one per language version, at the rank of its best version.

    The version shown is the one in the user's language (an original before a machine
    translation), else the best-ranked one; the others are named in its ``also_in`` metadata
    ("de, fr"), a translation marked as such ("zh (translated)"). Hits without a key pass
    unchanged. ``lang`` may be a function, so the query's language is detected only when two
    versions of one entity meet.
    """
    groups: dict[Hashable, list[SearchHit]] = {}
    order: list[Hashable | SearchHit] = []
    for hit in hits:
        group = key(hit)
        if group is None:
            order.append(hit)
        elif group not in groups:
            groups[group] = [hit]
            order.append(("group", group))
        else:
            groups[group].append(hit)
    if all(len(members) == 1 for members in groups.values()):
        return list(hits)
    user = lang() if callable(lang) else lang
    out = []
    for item in order:
        if isinstance(item, SearchHit):
            out.append(item)
            continue
        members = groups[item[1]]
        if len(members) == 1:
            out.append(members[0])
            continue
        shown = min(
            members, key=lambda h: (h.lang != user, "translated_from" in h.metadata, members.index(h))
        )
        others = [_version_name(h) for h in members if h is not shown]
        others = sorted(o for o in set(others) if o != _version_name(shown))
        out.append(
            replace(shown, metadata={**shown.metadata, "also_in": ", ".join(others)}) if others else shown
        )
    return out


def _version_name(hit: SearchHit) -> str:
    return f"{hit.lang} (translated)" if "translated_from" in hit.metadata else hit.lang
