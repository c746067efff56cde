"""Answer-evaluation metrics on hand-made results, and question-file errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from babelrag.agents.evaluation.answer_eval import Question, evaluate_answers, load_questions
from babelrag.agents.evaluation.beir import EvalDataError

pytestmark = pytest.mark.unit


@dataclass
class P:
    id: str


@dataclass
class R:
    answer: str
    sources: list[dict]
    passages: list[P]
    no_answer: bool = False
    timings: dict = field(default_factory=lambda: {"generate_s": 1.0})


def _src(ref: int, cid: str, doc_id: str = "", path: str = "/kb/a.md") -> dict:
    return {"ref": ref, "id": cid, "source": path, "metadata": {"doc_id": doc_id}}


def test_metrics_by_hand() -> None:
    questions = [
        Question("1", "Wie hoch ist der Dom?", "de", ("_dom",)),
        Question("2", "绿茶用多少度的水？", "zh", ("tea.md",)),
        Question("3", "Where is X?", "en", ("_x",)),
    ]
    results = {
        "Wie hoch ist der Dom?": R(
            "Der Dom ist 157 m hoch [1].", [_src(1, "c1", "_dom")], [P("c1"), P("c2")]
        ),
        # cites [1] (valid) and [2], which maps to no listed source: 1 of 2 markers invalid
        "绿茶用多少度的水？": R("75 bis 80 Grad [1][2].", [_src(1, "c3", path="/kb/tea.md")], [P("c3")]),
        "Where is X?": R("Not in the knowledge base.", [], [P("c9")], no_answer=True),
    }
    langs = {
        "Der Dom ist 157 m hoch [1].": "de",
        "75 bis 80 Grad [1][2].": "de",
        "Not in the knowledge base.": "en",
    }
    report = evaluate_answers(questions, lambda q, lang: results[q], lambda t: langs.get(t, "zh"))
    assert report.questions == 3
    assert report.in_language == pytest.approx(2 / 3)  # the zh question got a German answer
    assert report.citations_valid == pytest.approx(2 / 3)  # markers: [1] ok, [1] ok, [2] not a source
    assert report.cites_expected == pytest.approx(2 / 3)  # _dom by doc_id, tea.md by path, none for 3
    assert report.no_answer_rate == pytest.approx(1 / 3)
    assert report.mean_timings == {"generate_s": 1.0}
    assert "| 3 | 0.67 | 0.67 | 0.67 | 0.33 |" in report.to_markdown()


def test_question_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "ok"}\n{"quest": "typo"}\n', encoding="utf-8")
    with pytest.raises(EvalDataError, match=r"q\.jsonl line 2: needs a non-empty \"question\""):
        load_questions(path)
    path.write_text('{"question": "ok"}\nnot json\n', encoding="utf-8")
    with pytest.raises(EvalDataError, match="line 2: not valid JSON"):
        load_questions(path)
    path.write_text('{"question": "ok", "expected_sources": "a.md"}\n', encoding="utf-8")
    with pytest.raises(EvalDataError, match="must be a list"):
        load_questions(path)
    with pytest.raises(EvalDataError, match="no such question file"):
        load_questions(tmp_path / "missing.jsonl")
