"""Ranking metrics on cases small enough to check by hand, and the retrieval benchmark runner."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from babelrag.agents.evaluation.beir import BeirDataset, CorpusDoc, Query
from babelrag.agents.evaluation.metrics import (
    by_language,
    evaluate_run,
    metric_names,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
)
from babelrag.agents.evaluation.retrieval_eval import (
    corpus_to_jsonl,
    hits_to_doc_ids,
    run_retrieval_eval,
    select_queries,
)
from babelrag.stores.fakes import KeywordEmbeddings
from babelrag.stores.knowledge_store import SearchHit
from tests.store_cases import make_ingestor

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


def _dataset() -> BeirDataset:
    corpus = {
        "tea": CorpusDoc("tea", "Green tea", "Brew green tea with water at 80 degrees.", "en"),
        "bike": CorpusDoc("bike", "Bike chain", "Oil the bicycle chain every 300 kilometres.", "en"),
        "git": CorpusDoc("git", "Undo a commit", "Use git reset --soft to undo the last commit.", "en"),
    }
    queries = {
        "q-de": Query("q-de", "Fahrradkette ölen bicycle chain", "de"),
        "q-zh": Query("q-zh", "绿茶 green tea", "zh"),
        "q-fr": Query("q-fr", "annuler un commit git", "fr"),
    }
    qrels = {"q-de": {"bike": 1}, "q-zh": {"tea": 1}, "q-fr": {"git": 1}}
    return BeirDataset(corpus, queries, qrels, fingerprint="f")


class TestRunRetrievalEval:
    def test_modes_are_compared_per_language(self) -> None:
        dataset = _dataset()
        answers = {"q-de": "bike", "q-zh": "tea", "q-fr": "git"}
        perfect = {dataset.queries[q].text: [d, "x"] for q, d in answers.items()}
        seen: list[tuple[str, str | None]] = []

        def oracle(text: str, lang: str | None) -> list[str]:
            seen.append((text, lang))
            return perfect[text]

        def english_only(text: str, lang: str | None) -> list[str]:
            return ["x", "tea", "tea"] if lang == "zh" else []  # finds tea at rank 2 (after dedupe)

        report = run_retrieval_eval(dataset, modes={"oracle": oracle, "weak": english_only}, ks=(1, 5))
        assert ("绿茶 green tea", "zh") in seen
        assert report.modes["oracle"].metrics["Recall@1"] == 1.0
        weak = report.modes["weak"]
        assert weak.metrics["Recall@1"] == 0.0
        assert weak.metrics["MRR@5"] == pytest.approx(0.5 / 3)  # 1/2 for q-zh, 0 for the other two
        assert weak.by_language["zh"]["Recall@5"] == 1.0 and weak.by_language["de"]["Recall@5"] == 0.0
        assert weak.queries == 3 and weak.queries_by_language == {"de": 1, "fr": 1, "zh": 1}
        assert weak.mean_latency_s >= 0

        table = report.to_markdown()
        assert table.splitlines()[0] == "| mode | R@1 | R@5 | MRR@5 | nDCG@5 | queries | latency (ms) |"
        assert "| oracle | 1.000 | 1.000 | 1.000 | 1.000 | 3 |" in table
        assert "| weak | zh | 0.000 | 1.000 | 0.500 |" in table  # per-language rows: languages are mixed
        assert json.loads(json.dumps(report.to_dict()))["modes"]["weak"]["queries"] == 3

    def test_capped_queries_are_a_seeded_sample(self) -> None:
        dataset = _dataset()
        first = select_queries(dataset, 2, seed=7)
        assert len(first) == 2 and first == sorted(first) and first == select_queries(dataset, 2, seed=7)
        report = run_retrieval_eval(dataset, modes={"none": lambda t, lang: []}, max_queries=2, seed=7)
        assert report.query_ids == first and report.modes["none"].queries == 2

    def test_hits_to_doc_ids_dedupes_and_skips_foreign_chunks(self) -> None:
        def hit(doc_id: object) -> SearchHit:
            meta = {} if doc_id is None else {"doc_id": doc_id}
            return SearchHit(id="c", source="s", title="", lang="en", score=1.0, text="", metadata=meta)

        assert hits_to_doc_ids([hit("b"), hit(None), hit("a"), hit("b"), hit(3)]) == ["b", "a", "3"]

    def test_corpus_round_trips_through_ingestion(self, tmp_path: Path) -> None:
        """The corpus ids survive ingestion as ``doc_id``, so real search results can be scored."""
        dataset = _dataset()
        path = tmp_path / "corpus" / "corpus.jsonl"
        assert corpus_to_jsonl(dataset, path) == 3
        first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
        assert first["id"] == "tea" and first["text"].startswith("Green tea\n\n") and first["lang"] == "en"
        ingestor = make_ingestor(tmp_path, KeywordEmbeddings(dimension=128))
        assert not ingestor.ingest([path]).failed

        def dense(text: str, lang: str | None) -> list[str]:
            return hits_to_doc_ids(ingestor.store.search(text, k=3))

        report = run_retrieval_eval(dataset, modes={"dense": dense}, ks=(1, 3))
        # Every query shares English words with its document only; keyword vectors find each one.
        assert report.modes["dense"].metrics["Recall@3"] == 1.0
        assert report.modes["dense"].metrics["Recall@1"] == 1.0
