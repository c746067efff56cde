"""The retrieval benchmark runner: modes side by side, per language, with latency."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from babelrag.agents.evaluation.beir import BeirDataset, CorpusDoc, Query
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
