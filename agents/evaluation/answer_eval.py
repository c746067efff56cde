"""Answer evaluation: language, citations, expected sources, no-answer rate, latency."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from babelrag.agents.evaluation.beir import EvalDataError
from babelrag.stores.progress import NullProgress, Progress


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    lang: str | None = None
    expected_sources: tuple[str, ...] = ()
    reference: str | None = None


@dataclass
class AnswerReport:
    questions: int = 0
    in_language: float = 0.0
    citations_valid: float = 0.0
    cites_expected: float | None = None
    no_answer_rate: float = 0.0
    mean_latency_s: float = 0.0
    mean_timings: dict[str, float] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}

    def to_markdown(self) -> str:
        expected = "n/a" if self.cites_expected is None else f"{self.cites_expected:.2f}"
        lines = [
            "| questions | in question's language | citations valid | cites an expected source "
            "| no-answer rate | mean latency (s) |",
            "|---|---|---|---|---|---|",
            f"| {self.questions} | {self.in_language:.2f} | {self.citations_valid:.2f} | {expected} "
            f"| {self.no_answer_rate:.2f} | {self.mean_latency_s:.1f} |",
        ]
        return "\n".join(lines)


def load_questions(path: Path) -> list[Question]:
    """JSONL: ``question`` (required), ``id``, ``lang``, ``expected_sources``, ``reference``."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise EvalDataError(f"no such question file: {path}") from None
    except UnicodeDecodeError:
        raise EvalDataError(f"{path} is not UTF-8") from None
    out: list[Question] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalDataError(f"{path} line {number}: not valid JSON ({exc.msg})") from None
        if (
            not isinstance(obj, dict)
            or not isinstance(obj.get("question"), str)
            or not obj["question"].strip()
        ):
            raise EvalDataError(f'{path} line {number}: needs a non-empty "question"')
        expected = obj.get("expected_sources") or []
        if not isinstance(expected, list):
            raise EvalDataError(f'{path} line {number}: "expected_sources" must be a list')
        out.append(
            Question(
                str(obj.get("id", number)),
                obj["question"],
                obj.get("lang"),
                tuple(str(e) for e in expected),
                obj.get("reference"),
            )
        )
    if not out:
        raise EvalDataError(f"{path} has no questions")
    return out


def matches_expected(source: dict[str, Any], expected: Sequence[str]) -> bool:
    doc_id = str(source.get("metadata", {}).get("doc_id", ""))
    path = str(source.get("source", ""))
    return any(e == doc_id or (e and path.endswith(e)) for e in expected)


def evaluate_answers(
    questions: Sequence[Question],
    ask: Callable[[str, str | None], Any],
    detect_language: Callable[[str], str],
    *,
    progress: Progress | None = None,
) -> AnswerReport:
    """``ask(question, lang)`` returns an :class:`~babelrag.chains.answer.AnswerResult`."""
    progress = progress or NullProgress()
    report = AnswerReport(questions=len(questions))
    in_lang = valid = cited_ok = judged = no_answer = 0
    marks_total = 0
    latency = 0.0
    timing_sums: dict[str, float] = {}
    with progress.task("answering", total=len(questions)) as task:
        for q in questions:
            started = time.perf_counter()
            result = ask(q.question, None)
            seconds = time.perf_counter() - started
            latency += seconds
            lang = q.lang or detect_language(q.question)
            in_lang += detect_language(result.answer) == lang
            refs = {s["ref"]: s["id"] for s in result.sources}
            passage_ids = {p.id for p in result.passages}
            marks = [int(n) for n in re.findall(r"\[(\d+)\]", result.answer)]
            marks_total += len(marks)
            valid += sum(1 for n in marks if refs.get(n) in passage_ids)
            no_answer += result.no_answer
            if q.expected_sources:
                judged += 1
                cited_ok += any(matches_expected(s, q.expected_sources) for s in result.sources)
            for key, value in result.timings.items():
                timing_sums[key] = timing_sums.get(key, 0.0) + value
            report.rows.append(
                {
                    "id": q.id,
                    "question": q.question,
                    "lang": lang,
                    "answer": result.answer,
                    "no_answer": result.no_answer,
                    "sources": [s["id"] for s in result.sources],
                    "seconds": round(seconds, 2),
                }
            )
            task.advance()
    n = max(1, len(questions))
    report.in_language = in_lang / n
    report.citations_valid = valid / marks_total if marks_total else 1.0
    report.cites_expected = cited_ok / judged if judged else None
    report.no_answer_rate = no_answer / n
    report.mean_latency_s = latency / n
    report.mean_timings = {k: round(v / n, 3) for k, v in timing_sums.items()}
    return report
