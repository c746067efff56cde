"""Ranking metrics on cases small enough to check by hand."""

from __future__ import annotations

import math

import pytest

from babelrag.agents.evaluation.metrics import (
    by_language,
    evaluate_run,
    metric_names,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
)

pytestmark = pytest.mark.unit


# Graded judgments: d1 highly relevant, d2 and d3 relevant, d9 judged non-relevant.
JUDGED = {"d1": 2, "d2": 1, "d3": 1, "d9": 0}


class TestMetrics:
    def test_recall_divides_by_all_relevant_documents(self) -> None:
        ranking = ["d4", "d2", "d9", "d1", "d5"]
        assert recall_at_k(ranking, JUDGED, 1) == 0.0  # d4 is not relevant
        assert recall_at_k(ranking, JUDGED, 2) == pytest.approx(1 / 3)  # d2 of {d1, d2, d3}
        assert recall_at_k(ranking, JUDGED, 5) == pytest.approx(2 / 3)  # d2, d1; grade-0 d9 does not count

    def test_mrr_is_the_reciprocal_rank_of_the_first_relevant(self) -> None:
        assert mrr_at_k(["d4", "d9", "d3", "d1"], JUDGED, 10) == pytest.approx(1 / 3)  # d3 at rank 3
        assert mrr_at_k(["d4", "d9", "d3"], JUDGED, 2) == 0.0  # rank 3 is beyond the cut-off
        assert mrr_at_k([], JUDGED, 10) == 0.0

    def test_ndcg_uses_graded_gain_and_log2_discount(self) -> None:
        # DCG of [d2, d4, d1] = 1/log2(2) + 0/log2(3) + 2/log2(4) = 1 + 0 + 1 = 2
        # ideal [d1, d2, d3] = 2/log2(2) + 1/log2(3) + 1/log2(4) = 2 + 0.63093 + 0.5 = 3.13093
        assert ndcg_at_k(["d2", "d4", "d1"], JUDGED, 3) == pytest.approx(2 / (2.5 + 1 / math.log2(3)))
        assert ndcg_at_k(["d2", "d4", "d1"], JUDGED, 3) == pytest.approx(0.638787, abs=1e-6)
        # at k=1 only the top counts: DCG = 1 (d2), ideal = 2 (d1)
        assert ndcg_at_k(["d2", "d4", "d1"], JUDGED, 1) == pytest.approx(0.5)
        assert ndcg_at_k(["d1", "d2", "d3"], JUDGED, 10) == pytest.approx(1.0)

    def test_repeated_documents_count_once(self) -> None:
        # Chunk hits name d4 three times; deduplicated the ranking is [d4, d1]: d1 is at rank 2, not 4.
        ranking = ["d4", "d4", "d4", "d1"]
        assert mrr_at_k(ranking, JUDGED, 2) == pytest.approx(0.5)
        assert recall_at_k(["d1", "d1", "d1"], JUDGED, 3) == pytest.approx(1 / 3)  # not 3/3
        # DCG of [d1] = 2; not 2 + 2/log2(3) + 2/log2(4)
        assert ndcg_at_k(["d1", "d1", "d1"], JUDGED, 3) == pytest.approx(2 / (2.5 + 1 / math.log2(3)))

    def test_no_relevant_document_scores_zero(self) -> None:
        assert recall_at_k(["d9"], {"d9": 0}, 5) == 0.0
        assert ndcg_at_k(["d9"], {"d9": 0}, 5) == 0.0


QRELS = {"q1": {"a": 1}, "q2": {"b": 1, "c": 1}, "q3": {"x": 0}}  # q3 has nothing relevant


class TestEvaluateRun:
    def test_averages_over_the_judged_queries(self) -> None:
        run = {"q1": ["a", "z"], "q2": ["z", "c", "b"], "q3": ["x"]}
        scores = evaluate_run(run, QRELS, ks=(1, 2))
        assert list(scores) == ["Recall@1", "Recall@2", "MRR@2", "nDCG@2"]
        assert scores["Recall@1"] == pytest.approx(0.5)  # (1 + 0) / 2; q3 is not averaged over
        assert scores["Recall@2"] == pytest.approx(0.75)  # (1 + 1/2) / 2
        assert scores["MRR@2"] == pytest.approx(0.75)  # (1/1 + 1/2) / 2
        # q2: DCG = 0 + 1/log2(3) = 0.63093, ideal = 1 + 1/log2(3) = 1.63093 -> 0.38685
        assert scores["nDCG@2"] == pytest.approx((1 + 0.386853) / 2, abs=1e-6)

    def test_a_query_missing_from_the_run_counts_as_zero(self) -> None:
        scores = evaluate_run({"q1": ["a"]}, QRELS, ks=(1,))
        assert scores["Recall@1"] == pytest.approx(0.5)  # (1 + 0) / 2

    def test_default_names(self) -> None:
        assert metric_names() == ["Recall@1", "Recall@5", "Recall@10", "MRR@10", "nDCG@10"]
        with pytest.raises(ValueError, match="positive"):
            evaluate_run({}, QRELS, ks=(0,))

    def test_by_language(self) -> None:
        run = {"q1": ["a"], "q2": ["z"]}
        scores = by_language(run, QRELS, {"q1": "de", "q2": "zh"}, ks=(1,))
        assert list(scores) == ["de", "zh"]
        assert scores["de"]["Recall@1"] == 1.0 and scores["zh"]["Recall@1"] == 0.0
