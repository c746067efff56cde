"""Training data for a knowledge base, written by a scripted generator: filters, negatives, the
held-out split, LM scores, and a data file that a second run reuses and a stopped run resumes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from babelrag.agents.training.kb_data import (
    DataFile,
    Passage,
    Teacher,
    build_data,
    clean_question,
    drop_reason,
    held_out_documents,
    pick_negatives,
    read_passages,
    sample_passages,
)
from babelrag.stores.errors import BabelragError
from babelrag.stores.langdetect import detect_language

pytestmark = pytest.mark.unit

PASSAGES = [
    Passage("tea-1", "Green tea is brewed with water at 75 to 80 degrees for two minutes.", "tea.md#0", "en"),
    Passage("tea-2", "Green tea is brewed with water at 75 to 80 degrees for two minutes!", "tea.md#0", "en"),
    Passage("bike-1", "Oil the bicycle chain every 300 kilometres and after rain.", "bike.md#0", "en"),
    Passage("git-1", "Undo a commit with git reset --soft HEAD~1; changes stay staged.", "git.md#0", "en"),
    Passage("apt-1", "Install a package with apt install and remove it with apt remove.", "apt.md#0", "en"),
]  # fmt: skip
QUESTIONS = {
    "de": "Wie bereitet man grünen Tee richtig zu?",
    "zh": "怎样泡绿茶比较好喝？",
}


@dataclass
class Hit:
    id: str
    text: str
    source: str
    metadata: dict = field(default_factory=dict)


def hits_for(passages: list[Passage]) -> list[Hit]:
    return [Hit(p.id, p.text, p.doc.split("#")[0], {"doc": int(p.doc.split("#")[1])}) for p in passages]


class ScriptedTeacher:
    """Fixed questions; a candidate scores -5 when it is the passage the question was written for."""

    def __init__(self, replies: dict[str, str] | None = None) -> None:
        self.replies = replies or QUESTIONS
        self.written: list[tuple[str, str]] = []
        self.scored: list[tuple[str, str]] = []
        self.current: dict[str, str] = {}

    def write(self, text: str, lang: str) -> str:
        self.written.append((text, lang))
        reply = self.replies[lang]
        self.current[reply] = text
        return f"Question: {reply}\nand some more text"

    def score(self, text: str, lang: str, question: str) -> list[float]:
        self.scored.append((text, question))
        return [-1.0, -4.0] if self.current.get(question) == text else [-10.0, -20.0]

    def teacher(self) -> Teacher:
        return Teacher(write=self.write, score=self.score, model_id="scripted")


def test_questions_are_cleaned_and_bad_ones_get_a_reason() -> None:
    assert clean_question('Question: "How do I brew tea?"\nMore.') == "How do I brew tea?"
    assert clean_question("1. 问题：怎样泡绿茶？") == "怎样泡绿茶？"
    passage = "Green tea is brewed with water at 75 to 80 degrees for two minutes."

    def why(question: str, lang: str = "en") -> str:
        return drop_reason(question, passage, lang, detect_language)

    assert why("") == "empty" and why("Tea?") == "too short"
    assert why("Green tea is brewed with water at 75 to 80 degrees?") == "copies the passage"
    assert why("Green tea is brewed with hot water") == "not a question"
    assert why("How hot should the water for green tea be?", "de") == "wrong language (en)"
    assert why("Wie heiß sollte das Wasser für grünen Tee sein?", "de") == ""
    assert why("泡绿茶的水应该多热？", "zh") == ""


def test_the_split_is_by_document_seeded_and_leaves_both_sides() -> None:
    docs = [f"doc{i}" for i in range(20)]
    held = held_out_documents(docs, 0.25, seed=1)
    assert len(held) == 5 and held == held_out_documents(reversed(docs), 0.25, seed=1)
    assert held != held_out_documents(docs, 0.25, seed=2)
    assert len(held_out_documents(["a", "b"], 0.9, seed=1)) == 1  # one document is left to train on
    assert held_out_documents(["a"], 0.5, seed=1) == set()
    sample = sample_passages(PASSAGES, 3, seed=1)
    assert sample == sample_passages(PASSAGES, 5, seed=1)[:3], "a larger budget extends a smaller one"


def test_short_chunks_are_not_passages() -> None:
    chunks = [("a", "x" * 100, {"source": "s.md", "doc": 2, "lang": "en"}), ("b", "short", {})]
    assert read_passages(chunks) == [Passage("a", "x" * 100, "s.md#2", "en")]


def test_negatives_skip_the_positive_its_document_held_out_documents_and_near_copies() -> None:
    positive = PASSAGES[0]
    near_copy = Passage("tea-9", PASSAGES[1].text, "other.md#0", "en")
    hits = hits_for([positive, PASSAGES[1], near_copy, PASSAGES[2], PASSAGES[3], PASSAGES[4]])
    picked = pick_negatives(hits, positive, held_out={"git.md#0"}, k=2)
    assert [h.id for h in picked] == ["bike-1", "apt-1"]


def test_records_hold_questions_negatives_and_lm_scores_and_a_rerun_reuses_them(tmp_path: Path) -> None:
    teacher = ScriptedTeacher()
    data = DataFile(tmp_path / "out" / "training-data" / "questions.jsonl")
    held = {"git.md#0"}
    passages = [PASSAGES[0], PASSAGES[2], PASSAGES[3]]
    report = build_data(
        passages=passages,
        langs=["de", "zh"],
        held_out=held,
        teacher=teacher.teacher(),
        search=lambda q, k: hits_for(PASSAGES)[:k],
        detect_language=detect_language,
        data=data,
        negatives=2,
    )
    assert report.generated == 6 and report.reused == 0
    lines = [json.loads(line) for line in data.path.read_text(encoding="utf-8").splitlines()]
    tea_de = next(r for r in lines if r["passage_id"] == "tea-1" and r["lang"] == "de")
    assert tea_de["question"] == QUESTIONS["de"] and tea_de["kept"] and tea_de["split"] == "train"
    assert tea_de["negatives"] == ["bike-1", "apt-1"]  # not its own document, not the held-out git.md
    assert tea_de["lm_logprob"] == [-5.0, -30.0, -30.0] and tea_de["question_tokens"] == 2
    git = [r for r in lines if r["passage_id"] == "git-1"]
    assert {r["split"] for r in git} == {"eval"}
    assert all(not r["negatives"] and not r["lm_logprob"] for r in git), "held out: nothing to train on"
    n_written, n_scored = len(teacher.written), len(teacher.scored)
    assert n_scored == 2 * 3 * 2, "two training passages, two questions each, three candidates each"

    again = build_data(
        passages=passages,
        langs=["de", "zh"],
        held_out=held,
        teacher=teacher.teacher(),
        search=lambda q, k: hits_for(PASSAGES)[:k],
        detect_language=detect_language,
        data=data,
    )
    assert again.generated == 0 and again.reused == 6 and len(teacher.written) == n_written


def test_a_stopped_run_resumes_after_the_last_passage_written(tmp_path: Path) -> None:
    data = DataFile(tmp_path / "questions.jsonl")
    kwargs = dict(
        langs=["de"], held_out=set(), search=lambda q, k: hits_for(PASSAGES)[:k],
        detect_language=detect_language, data=data, negatives=1,
    )  # fmt: skip
    build_data(passages=PASSAGES[:2], teacher=ScriptedTeacher().teacher(), **kwargs)
    with data.path.open("a", encoding="utf-8") as f:
        f.write('{"passage_id": "bike-1", "doc": "bike')  # the run was killed while writing
    teacher = ScriptedTeacher()
    report = build_data(passages=PASSAGES[:4], teacher=teacher.teacher(), **kwargs)
    assert [text for text, _ in teacher.written] == [PASSAGES[2].text, PASSAGES[3].text]
    assert report.reused == 2 and len(data.read()) == 4


def test_a_damaged_data_file_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "questions.jsonl"
    path.write_text('not json\n{"passage_id": "a"}\n', encoding="utf-8")
    with pytest.raises(BabelragError, match="line 1"):
        DataFile(path).read()


def test_questions_in_the_wrong_language_are_kept_in_the_file_as_dropped(tmp_path: Path) -> None:
    data = DataFile(tmp_path / "questions.jsonl")
    teacher = ScriptedTeacher({"de": "How do I brew green tea properly?"})
    build_data(
        passages=PASSAGES[:1], langs=["de"], held_out=set(), teacher=teacher.teacher(),
        search=lambda q, k: [], detect_language=detect_language, data=data,
    )  # fmt: skip
    (record,) = data.read()
    assert not record.kept and record.reason == "wrong language (en)" and not teacher.scored


def test_data_is_reused_only_under_the_settings_that_split_it(tmp_path: Path) -> None:
    data = DataFile(tmp_path / "questions.jsonl")
    data.check_settings({"kb": "docs", "eval_fraction": 0.2, "seed": 42})
    data.check_settings({"kb": "docs", "eval_fraction": 0.2, "seed": 42})
    with pytest.raises(BabelragError, match=r"eval_fraction 0.2 \(now 0.5\)"):
        data.check_settings({"kb": "docs", "eval_fraction": 0.5, "seed": 42})
