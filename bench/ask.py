"""``ask`` end to end with the real models over the sample KB: where the time goes, translation on/off.

The translation cache is off, so every translation is generated. Both modes share one loaded
runtime; for each question the order of the two modes alternates. Translation changes the
retrieved passages and so the prompt, which is why generation times differ between modes too.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import SAMPLE_KB, Table, bench_settings, fmt, sample_questions

TITLE = "5. `ask` end to end (real models, sample KB, translation cache off)"
QUESTIONS = (12, 4, 6)  # zh, de, en
WARMUP = 1
PARTS = ("translate_s", "retrieve_s", "prefill_s", "decode_s", "ground_s", "rewrite_s")


def run(quick: bool) -> dict[str, Any]:
    from babelrag.agents.runtime import Runtime

    questions = sample_questions(QUESTIONS[1:2] if quick else QUESTIONS)
    with tempfile.TemporaryDirectory() as tmp:
        runtime = Runtime(bench_settings(Path(tmp), kb="sample", translation={"cache": False}))
        ingest = runtime.ingestor().ingest([SAMPLE_KB])
        modes = {
            "translation on": runtime.answer_chain(runtime.cross_lingual_retriever(translate=True)),
            "translation off": runtime.answer_chain(runtime.cross_lingual_retriever(translate=False)),
        }
        warmup = sample_questions([WARMUP])[0]["question"]
        for pipeline in modes.values():  # loads both models, runs every step once
            pipeline.invoke({"question": warmup})
        asked: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
        for i, q in enumerate(questions):
            order = list(modes) if i % 2 == 0 else list(modes)[::-1]
            for mode in order:
                asked[mode].append(_ask(modes[mode], q))
    return {
        "chunks": ingest.chunks_embedded,
        "questions": [f"#{q['number']} {q['lang']}" for q in questions],
        "asked": asked,
        "means": {mode: _means(rows) for mode, rows in asked.items()},
    }


def _ask(pipeline: Any, question: dict[str, str]) -> dict[str, Any]:
    started = time.perf_counter()
    result = pipeline.invoke({"question": question["question"]})
    total = time.perf_counter() - started
    return {
        "question": f"#{question['number']} {question['lang']}",
        "total_s": total,
        **{part: result.timings.get(part, 0.0) for part in PARTS},
        "prompt_tokens": result.generation.get("prompt_tokens"),
        "completion_tokens": result.generation.get("completion_tokens"),
        "translations": result.translations,
        "no_answer": result.no_answer,
        "answer": result.answer[:200],
    }


def _means(rows: list[dict[str, Any]]) -> dict[str, float]:
    keys = (*PARTS, "total_s", "prompt_tokens", "completion_tokens")
    means = {key: statistics.fmean(float(r[key] or 0.0) for r in rows) for key in keys}
    means["other_s"] = means["total_s"] - sum(means[p] for p in PARTS)
    return means


def table(r: dict[str, Any]) -> Table:
    on, off = r["means"]["translation on"], r["means"]["translation off"]
    labels = {
        "translate_s": "translate",
        "retrieve_s": "retrieve (embed + search + fuse)",
        "prefill_s": "prefill (time to first token)",
        "decode_s": "decode",
        "ground_s": "ground (cite + check)",
        "rewrite_s": "rewrite (wrong language)",
        "other_s": "other (detect, pack, template)",
        "total_s": "total",
    }
    rows = [[label, fmt(on[key], 2), fmt(off[key], 2)] for key, label in labels.items()]
    rows.append(
        [
            "prompt / new tokens",
            f"{on['prompt_tokens']:.0f} / {on['completion_tokens']:.0f}",
            f"{off['prompt_tokens']:.0f} / {off['completion_tokens']:.0f}",
        ]
    )
    answered = {mode: sum(not a["no_answer"] for a in rows_) for mode, rows_ in r["asked"].items()}
    n = len(r["questions"])
    kept = "; ".join(
        f"{a['question']} → {', '.join(a['translations']) or 'none'}" for a in r["asked"]["translation on"]
    )
    return Table(
        TITLE,
        ["mean seconds per question", "translation on", "translation off (baseline)"],
        rows,
        [
            f"Questions {', '.join(r['questions'])} from examples/sample_kb_questions.md over the sample KB "
            f"({r['chunks']} chunks); question #1 asked once in each mode first, as a warm-up.",
            f"Answered (not 'no answer'): {answered['translation on']}/{n} with translation, "
            f"{answered['translation off']}/{n} without. Translations kept: {kept}.",
        ],
    )
