"""Ranking metrics over ranked document ids and graded judgments (qrels), as BEIR reports them.

Pure functions, so that a number in a report can be checked by hand. Conventions follow
trec_eval/pytrec_eval, which BEIR uses: a document is relevant when its grade is > 0, recall
divides by all relevant documents (not by k), nDCG uses linear gain (the grade) with a log2
rank discount and the ideal ordering of the judged grades. A ranking that names a document
twice counts its first occurrence only: chunk-level retrievers return several chunks of one
document, and those must not be rewarded (or punished) twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Sequence[str]]


def dedupe(ranking: Iterable[str]) -> list[str]:
    """The ranking with repeats removed, first occurrence kept."""
    return list(dict.fromkeys(ranking))


def _relevant(judgments: Mapping[str, int]) -> set[str]:
    return {doc for doc, grade in judgments.items() if grade > 0}


def recall_at_k(ranking: Sequence[str], judgments: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents found in the top ``k``; 0 when nothing is relevant."""
    relevant = _relevant(judgments)
    if not relevant:
        return 0.0
    return len(relevant.intersection(dedupe(ranking)[:k])) / len(relevant)


def mrr_at_k(ranking: Sequence[str], judgments: Mapping[str, int], k: int) -> float:
    """1 / rank of the first relevant document in the top ``k``, else 0."""
    relevant = _relevant(judgments)
    for rank, doc in enumerate(dedupe(ranking)[:k], start=1):
        if doc in relevant:
            return 1.0 / rank
    return 0.0


def _dcg(grades: Iterable[int]) -> float:
    return sum(grade / math.log2(rank + 1) for rank, grade in enumerate(grades, start=1) if grade > 0)


def ndcg_at_k(ranking: Sequence[str], judgments: Mapping[str, int], k: int) -> float:
    """DCG of the top ``k`` over the DCG of the best possible top ``k`` of the judged grades."""
    ideal = _dcg(sorted((g for g in judgments.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return _dcg(judgments.get(doc, 0) for doc in dedupe(ranking)[:k]) / ideal


def metric_names(ks: Sequence[int] = (1, 5, 10)) -> list[str]:
    """Names, in report order, of what :func:`evaluate_run` returns for ``ks``."""
    top = max(ks)
    return [*(f"Recall@{k}" for k in sorted(set(ks))), f"MRR@{top}", f"nDCG@{top}"]


def judged_queries(qrels: Qrels) -> list[str]:
    """Queries with at least one relevant document: the only ones a metric can be averaged over."""
    return sorted(qid for qid, judgments in qrels.items() if _relevant(judgments))


def evaluate_run(run: Run, qrels: Qrels, ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """Recall@k for every k, MRR and nDCG at the largest k, averaged over the judged queries.

    A judged query missing from ``run`` counts as an empty ranking (it scores 0), so a system
    cannot look better by failing on the hard queries; run entries without judgments are ignored.
    """
    if not ks or min(ks) < 1:
        raise ValueError(f"ks must be positive cut-offs, got {tuple(ks)!r}")
    names = metric_names(ks)
    queries = judged_queries(qrels)
    if not queries:
        return dict.fromkeys(names, 0.0)
    top = max(ks)
    totals = dict.fromkeys(names, 0.0)
    for qid in queries:
        ranking, judgments = run.get(qid, ()), qrels[qid]
        for k in set(ks):
            totals[f"Recall@{k}"] += recall_at_k(ranking, judgments, k)
        totals[f"MRR@{top}"] += mrr_at_k(ranking, judgments, top)
        totals[f"nDCG@{top}"] += ndcg_at_k(ranking, judgments, top)
    return {name: total / len(queries) for name, total in totals.items()}


def by_language(
    run: Run, qrels: Qrels, query_lang: Mapping[str, str | None], ks: Sequence[int] = (1, 5, 10)
) -> dict[str, dict[str, float]]:
    """:func:`evaluate_run` per query language (``"und"`` where a query has none), sorted by code."""
    groups: dict[str, dict[str, Mapping[str, int]]] = {}
    for qid in judged_queries(qrels):
        groups.setdefault(query_lang.get(qid) or "und", {})[qid] = qrels[qid]
    return {lang: evaluate_run(run, groups[lang], ks) for lang in sorted(groups)}
