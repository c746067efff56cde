"""The BEIR reader: good folders load and round-trip; every defect is named by file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from babelrag.agents.evaluation.beir import (
    BeirDataset,
    CorpusDoc,
    EvalDataError,
    Query,
    load_beir,
    write_beir,
)
from babelrag.stores.errors import BabelragError

pytestmark = pytest.mark.unit

CORPUS = [
    {"_id": "d1", "title": "Green tea", "text": "Brew at 80 degrees.", "lang": "en"},
    {"_id": "d2", "title": "Bike chain", "text": "Oil it every 300 km."},
    {"_id": 3, "title": "Numbers", "text": "An id that is a number."},
]
QUERIES = [
    {"_id": "q1", "text": "绿茶水温", "lang": "zh"},
    {"_id": "q2", "text": "Fahrradkette ölen", "lang": "de"},
    {"_id": "q3", "text": "a query of another split"},
]
QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t2\nq2\td2\t1\nq2\t3\t0\n"


def _jsonl(rows: list[dict[str, object]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def write_folder(
    root: Path, *, corpus: str | None = None, queries: str | None = None, qrels: str | None = None
) -> Path:
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    (root / "corpus.jsonl").write_text(_jsonl(CORPUS) if corpus is None else corpus, encoding="utf-8")
    (root / "queries.jsonl").write_text(_jsonl(QUERIES) if queries is None else queries, encoding="utf-8")
    (root / "qrels" / "test.tsv").write_text(QRELS if qrels is None else qrels, encoding="utf-8")
    return root


class TestLoad:
    def test_a_good_folder(self, tmp_path: Path) -> None:
        data = load_beir(write_folder(tmp_path))
        assert data.corpus["d1"] == CorpusDoc("d1", "Green tea", "Brew at 80 degrees.", "en")
        assert data.corpus["3"].title == "Numbers"  # numeric ids are strings
        assert data.queries["q1"] == Query("q1", "绿茶水温", "zh") and data.queries["q3"].lang is None
        assert data.qrels == {"q1": {"d1": 2}, "q2": {"d2": 1, "3": 0}}
        assert data.judged_query_ids() == ["q1", "q2"]  # q3 has no judgments in this split
        assert data.warnings == [] and len(data.fingerprint) == 64

    def test_fingerprint_follows_the_bytes(self, tmp_path: Path) -> None:
        first = load_beir(write_folder(tmp_path / "a")).fingerprint
        assert load_beir(write_folder(tmp_path / "b")).fingerprint == first
        changed = write_folder(tmp_path / "c", qrels=QRELS.replace("\t2\n", "\t1\n"))
        assert load_beir(changed).fingerprint != first

    def test_write_then_load_round_trips(self, tmp_path: Path) -> None:
        data = load_beir(write_folder(tmp_path / "in"))
        fingerprint = write_beir(data, tmp_path / "out")
        again = load_beir(tmp_path / "out")
        assert (again.corpus, again.queries, again.qrels) == (data.corpus, data.queries, data.qrels)
        assert again.fingerprint == fingerprint

    def test_write_refuses_ids_that_break_the_tsv(self, tmp_path: Path) -> None:
        data = BeirDataset({"d\t1": CorpusDoc("d\t1", "", "x")}, {"q": Query("q", "x")}, {"q": {"d\t1": 1}})
        with pytest.raises(EvalDataError, match="tabs"):
            write_beir(data, tmp_path)

    def test_unknown_ids_in_qrels_warn_and_drop(self, tmp_path: Path) -> None:
        qrels = QRELS + "q9\td1\t1\nq1\tmissing\t1\nq3\tgone\t1\n"  # lines 5, 6, 7
        data = load_beir(write_folder(tmp_path, qrels=qrels))
        assert data.qrels["q1"] == {"d1": 2}  # the unknown document is dropped, the query kept
        assert "q3" not in data.qrels  # its only relevant document does not exist
        assert data.warnings == [
            "qrels/test.tsv line 6: document 'missing' is not in corpus.jsonl",
            "qrels/test.tsv line 5: query 'q9' is not in queries.jsonl; its judgments are ignored",
            "qrels/test.tsv line 7: document 'gone' is not in corpus.jsonl",
            "qrels/test.tsv line 7: query 'q3' has no relevant document in corpus.jsonl; dropped",
        ]


def _error(tmp_path: Path, **files: str) -> str:
    with pytest.raises(EvalDataError) as info:
        load_beir(write_folder(tmp_path, **files))
    assert isinstance(info.value, BabelragError)
    return info.value.message


class TestErrors:
    def test_missing_folder_and_files(self, tmp_path: Path) -> None:
        with pytest.raises(EvalDataError, match="no such folder"):
            load_beir(tmp_path / "nowhere")
        (write_folder(tmp_path) / "queries.jsonl").unlink()
        with pytest.raises(EvalDataError, match=r"has no queries\.jsonl") as info:
            load_beir(tmp_path)
        assert "qrels/test.tsv" in (info.value.hint or "")

    def test_other_split(self, tmp_path: Path) -> None:
        with pytest.raises(EvalDataError, match=r"has no qrels/dev\.tsv"):
            load_beir(write_folder(tmp_path), split="dev")

    def test_bad_json_names_file_and_line(self, tmp_path: Path) -> None:
        lines = _jsonl(QUERIES).splitlines()
        queries = "\n".join([*lines[:2], "", "", "", "", '{"_id": "q7", "text": '])  # line 7
        message = _error(tmp_path, queries=queries)
        assert message.startswith("queries.jsonl line 7: not valid JSON (")

    def test_not_an_object(self, tmp_path: Path) -> None:
        assert _error(tmp_path, corpus='["d1", "text"]\n') == "corpus.jsonl line 1: not a JSON object"

    def test_missing_id_and_text(self, tmp_path: Path) -> None:
        corpus = _jsonl([*CORPUS[:2], {"title": "no id", "text": "x"}])
        assert _error(tmp_path, corpus=corpus) == 'corpus.jsonl line 3: no "_id" (a non-empty string)'
        queries = _jsonl([QUERIES[0], {"_id": "q2", "txt": "typo"}])
        assert _error(tmp_path / "b", queries=queries) == 'queries.jsonl line 2: no "text" (a string)'
        queries = _jsonl([QUERIES[0], {"_id": "q2", "text": "  "}])
        assert _error(tmp_path / "c", queries=queries) == 'queries.jsonl line 2: empty "text"'

    def test_duplicate_ids(self, tmp_path: Path) -> None:
        corpus = _jsonl([*CORPUS, {"_id": "d2", "text": "again"}])
        expected = "corpus.jsonl line 4: duplicate \"_id\" 'd2' (first on line 2)"
        assert _error(tmp_path, corpus=corpus) == expected

    def test_empty_files(self, tmp_path: Path) -> None:
        assert _error(tmp_path, corpus="\n  \n") == "corpus.jsonl is empty"
        assert _error(tmp_path / "b", qrels="") == "qrels/test.tsv is empty"
        message = _error(tmp_path / "c", qrels="query-id\tcorpus-id\tscore\n")
        assert message == "qrels/test.tsv has a header but no judgments"

    def test_bad_tsv_header(self, tmp_path: Path) -> None:
        message = _error(tmp_path, qrels="q1\td1\t1\n")
        assert message == (
            "qrels/test.tsv line 1: expected the header 'query-id<TAB>corpus-id<TAB>score', got 'q1\\td1\\t1'"
        )

    def test_bad_tsv_rows(self, tmp_path: Path) -> None:
        rows = QRELS + "q1 d2 1\n"  # line 5: spaces, not tabs
        message = _error(tmp_path, qrels=rows)
        assert message == "qrels/test.tsv line 5: expected 3 tab-separated columns, got 'q1 d2 1'"
        rows = QRELS.replace("q2\td2\t1", "q2\td2\t1.5")  # line 3
        assert _error(tmp_path / "b", qrels=rows) == "qrels/test.tsv line 3: score '1.5' is not an integer"

    def test_nothing_left_to_evaluate(self, tmp_path: Path) -> None:
        message = _error(tmp_path, qrels="query-id\tcorpus-id\tscore\nq1\tnope\t1\n")
        assert "no judged query is left" in message

    def test_not_utf8(self, tmp_path: Path) -> None:
        folder = write_folder(tmp_path)
        (folder / "queries.jsonl").write_bytes(b'{"_id": "q1", "text": "\xff"}\n')
        with pytest.raises(EvalDataError, match=r"queries\.jsonl: not UTF-8"):
            load_beir(folder)
