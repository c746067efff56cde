"""``ask`` end to end for each generator, against generating the same answer alone.

Each generator available (see :data:`bench.common.GENERATORS`) answers in a worker process of its
own, over its own copy of the sample KB, with translation on and the translation cache off, so
every translation is generated. One warm-up question first: it loads every model and, with
llama.cpp, leaves the translator's fixed prompt prefix in its context (``Runtime.translation_llm``)
as a running service would have it. Then each question goes to every engine in turn.

The baseline is the generation ``ask`` itself makes: the final prompt (recorded from the chat
model's callback) sent straight to the same generator with the same decoding, so the ratio is what
retrieval, translation, grounding and the chain add. llama.cpp reuses the KV cache of the prompt
prefix it shares with the previous prompt (the start of the answer prompt); ``ask`` runs first,
and the context is then cut back to the prefix ``ask`` reused, so the alone run starts from the
same cache. (The other order would need the prompt before ``ask``, and building it translates.)
"""

from __future__ import annotations

import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.common import SAMPLE_KB, Table, available_generators, bench_settings, fmt, sample_questions, timed
from bench.workers import Worker, WorkerError

TITLE = "5. `ask` end to end per engine (real models, sample KB, translation on, cache off)"
QUESTIONS = (12, 4, 6)  # zh, de, en
WARMUP = 1
PARTS = ("translate_s", "retrieve_s", "prefill_s", "decode_s", "ground_s", "rewrite_s")
TARGETS = {"ask_over_alone": 1.3, "llama_speedup": 3.0}  # see bench/README.md


def run(quick: bool) -> dict[str, Any]:
    generators, skipped = available_generators()
    questions = sample_questions(QUESTIONS[1:2] if quick else QUESTIONS)
    engines: dict[str, dict[str, Any]] = {}
    with ExitStack() as stack:
        workers = {}
        for generator, location in generators:
            worker = stack.enter_context(Worker(AskBench, location, generator.engine))
            try:
                setup = worker.call("setup", warmup=sample_questions([WARMUP])[0]["question"])
            except WorkerError as exc:
                skipped.append(f"{generator.label} failed: {str(exc).strip().splitlines()[-1]}")
                continue
            engines[generator.label] = {
                "model": generator.model,
                "size": generator.size,
                **setup,
                "asked": [],
            }
            workers[generator.label] = worker
        for q in questions:
            for label, worker in workers.items():
                engines[label]["asked"].append(worker.call("ask_pair", question=q))
        for label, worker in workers.items():
            engines[label]["memory"] = worker.call("memory")
    for engine in engines.values():
        engine["means"] = _means(engine["asked"])
    return {
        "questions": [f"#{q['number']} {q['lang']}" for q in questions],
        "engines": engines,
        "skipped": skipped,
    }


class AskBench:
    """One generator's runtime over its own copy of the sample KB (in a worker process)."""

    def __init__(self, model: str, engine: str) -> None:
        self.model, self.engine = model, engine
        self._home = tempfile.TemporaryDirectory(prefix="babelrag-bench-")

    def setup(self, warmup: str) -> dict[str, Any]:
        from babelrag.agents.runtime import Runtime

        settings = bench_settings(
            Path(self._home.name),
            kb="sample",
            models={"generator": self.model},
            generation={"engine": self.engine},
            translation={"cache": False},
        )
        self.runtime = Runtime(settings)
        ingest_s, ingest = timed(lambda: self.runtime.ingestor().ingest([SAMPLE_KB]))
        self.chain = self.runtime.answer_chain(self.runtime.cross_lingual_retriever(translate=True))
        warmup_s, _ = timed(lambda: self.chain.invoke({"question": warmup}))
        return {
            "engine": self.runtime.llm._llm_type,
            "chunks": ingest.chunks_embedded,
            "ingest_s": ingest_s,
            "warmup_s": warmup_s,
        }

    def ask_pair(self, question: dict[str, str]) -> dict[str, Any]:
        """``ask``, then the same generation alone from the llama.cpp cache ``ask`` started from."""
        recorder = _prompt_recorder()
        asked = self._ask(question["question"], recorder)
        llama = getattr(self.runtime.llm, "llama", None)
        if llama is not None and asked["cached_prompt_tokens"] is not None:
            llama.n_tokens = min(llama.n_tokens, asked["cached_prompt_tokens"])  # the cache ask found
        alone = self._alone(recorder.messages)
        alone["same_answer"] = alone.pop("text") == asked.pop("raw_answer")
        return {"question": f"#{question['number']} {question['lang']}", **asked, "alone": alone}

    def _ask(self, question: str, recorder: Any) -> dict[str, Any]:
        started = time.perf_counter()
        result = self.chain.invoke({"question": question}, config={"callbacks": [recorder]})
        total = time.perf_counter() - started
        g = result.generation
        return {
            "total_s": total,
            **{part: result.timings.get(part, 0.0) for part in PARTS},
            "prompt_tokens": g.get("prompt_tokens"),
            "completion_tokens": g.get("completion_tokens"),
            "cached_prompt_tokens": g.get("cached_prompt_tokens"),
            "raw_answer": g.get("raw_answer"),
            "translations": result.translations,
            "no_answer": result.no_answer,
            "answer": result.answer[:200],
        }

    def _alone(self, messages: list[Any]) -> dict[str, Any]:
        """The answer prompt straight to the generator, with the decoding ``ask`` uses."""
        decoding = self.chain.llm.decoding.with_overrides(max_new_tokens=self.chain.max_new_tokens)
        total, reply = timed(lambda: self.chain.llm.invoke(messages, decoding=decoding))
        meta = reply.response_metadata
        keys = ("prefill_s", "decode_s", "prompt_tokens", "completion_tokens", "cached_prompt_tokens")
        return {"total_s": total, **{key: meta.get(key) for key in keys}, "text": str(reply.content)}

    def close(self) -> None:
        self._home.cleanup()


def _prompt_recorder() -> Any:
    """A callback that keeps the messages of the first chat-model call: the answer prompt."""
    from langchain_core.callbacks import BaseCallbackHandler

    class PromptRecorder(BaseCallbackHandler):
        messages: list[Any] | None = None

        def on_chat_model_start(self, serialized: Any, messages: list[list[Any]], **kwargs: Any) -> None:
            if self.messages is None:  # a rewrite into the asked language comes later
                self.messages = list(messages[0])

    return PromptRecorder()


def _means(rows: list[dict[str, Any]]) -> dict[str, float]:
    keys = (*PARTS, "total_s", "prompt_tokens", "completion_tokens")
    means = {key: statistics.fmean(float(r[key] or 0.0) for r in rows) for key in keys}
    means["other_s"] = means["total_s"] - sum(means[p] for p in PARTS)
    for key in ("total_s", "prefill_s", "decode_s", "completion_tokens"):
        means[f"alone_{key}"] = statistics.fmean(float(r["alone"][key] or 0.0) for r in rows)
    means["ask_over_alone"] = means["total_s"] / means["alone_total_s"]
    return means


def table(r: dict[str, Any]) -> Table:
    engines = r["engines"]
    labels = {
        "translate_s": "translate",
        "retrieve_s": "retrieve (embed + search + fuse)",
        "prefill_s": "prefill (time to first token)",
        "decode_s": "decode",
        "ground_s": "ground (cite + check)",
        "rewrite_s": "rewrite (wrong language)",
        "other_s": "other (detect, pack, template)",
        "total_s": "**ask total**",
        "alone_total_s": "**the same generation alone**",
    }
    rows = [[label, *(fmt(e["means"][key], 2) for e in engines.values())] for key, label in labels.items()]
    rows.append(["ask / alone", *(f"{e['means']['ask_over_alone']:.2f}×" for e in engines.values())])
    rows.append(
        [
            "prompt / new tokens",
            *(
                f"{e['means']['prompt_tokens']:.0f} / {e['means']['completion_tokens']:.0f}"
                for e in engines.values()
            ),
        ]
    )
    rows.append(
        [
            "answered",
            *(f"{sum(not a['no_answer'] for a in e['asked'])}/{len(e['asked'])}" for e in engines.values()),
        ]
    )
    rows.append(["peak RSS MB", *(fmt(e["memory"]["peak_rss_mb"], 0) for e in engines.values())])
    notes = [
        f"Mean seconds per question over {', '.join(r['questions'])} from examples/sample_kb_questions.md "
        "over the sample KB, each engine in a process of its own; question #1 first as a warm-up "
        "(not counted), so llama.cpp's translation context holds its prompt prefix.",
        "Alone = the answer prompt ask built, sent straight to the same generator with the same decoding, "
        "right after ask (llama.cpp: from the cache ask started from). Target: ask ≤ "
        f"{TARGETS['ask_over_alone']}× alone; the rows above show where the difference goes.",
        *_speedups(engines),
        *_consistency(engines),
        *r["skipped"],
    ]
    return Table(TITLE, ["mean seconds per question", *engines], rows, notes)


def _speedups(engines: dict[str, dict[str, Any]]) -> list[str]:
    """llama.cpp over transformers at the same model size (target ≥ 3×)."""
    out = []
    for label, e in engines.items():
        base = engines.get(f"transformers {e['size']}")
        if label.startswith("llama.cpp") and base:
            ours, theirs = e["means"], base["means"]
            out.append(
                f"{label} speedup over transformers {e['size']} (their seconds / its seconds): ask "
                f"{theirs['total_s'] / ours['total_s']:.1f}×, the generation alone "
                f"{theirs['alone_total_s'] / ours['alone_total_s']:.1f}× "
                f"(target ≥ {TARGETS['llama_speedup']:.0f}×; the answers differ in length: "
                f"{theirs['completion_tokens']:.0f} vs {ours['completion_tokens']:.0f} new tokens)."
            )
    return out


def _consistency(engines: dict[str, dict[str, Any]]) -> list[str]:
    """Whether the alone runs reproduced ask's answer, and what each reused of llama.cpp's cache."""
    out = []
    for label, e in engines.items():
        same = sum(a["alone"]["same_answer"] for a in e["asked"])
        line = f"{label}: the alone run reproduced ask's raw answer {same}/{len(e['asked'])} times"
        cached = [(a["cached_prompt_tokens"], a["alone"]["cached_prompt_tokens"]) for a in e["asked"]]
        if any(c[0] is not None for c in cached):
            line += "; cached prompt tokens ask / alone: " + ", ".join(f"{a}/{b}" for a, b in cached)
        kept = "; ".join(f"{a['question']} → {', '.join(a['translations']) or 'none'}" for a in e["asked"])
        out.append(f"{line}. Translations kept: {kept}.")
    return out
