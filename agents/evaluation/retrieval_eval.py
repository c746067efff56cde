"""Retrieval modes measured side by side on one test set: quality per language and latency.

A mode is any function from (query text, query language) to ranked corpus ids, so dense
search, translated queries, BM25 and their fusion are compared on equal terms without this
module knowing how any of them work; the composition root builds them.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from babelrag.agents.evaluation.beir import BeirDataset
from babelrag.agents.evaluation.metrics import by_language, dedupe, evaluate_run, metric_names
from babelrag.stores.progress import NullProgress, Progress

Mode = Callable[[str, str | None], list[str]]


class _HasMetadata(Protocol):
    @property
    def metadata(self) -> Mapping[str, Any]: ...


@dataclass
class ModeResult:
    metrics: dict[str, float]
    by_language: dict[str, dict[str, float]]
    queries: int
    queries_by_language: dict[str, int]
    mean_latency_s: float


@dataclass
class RetrievalReport:
    ks: tuple[int, ...]
    query_ids: list[str]  # the queries every mode answered, in the order they were asked
    dataset_fingerprint: str
    modes: dict[str, ModeResult] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ks": list(self.ks),
            "dataset_fingerprint": self.dataset_fingerprint,
            "queries": len(self.query_ids),
            "modes": {name: asdict(result) for name, result in self.modes.items()},
        }

    def to_markdown(self) -> str:
        """One row per mode; a second table per mode and language when the queries mix languages."""
        names = metric_names(self.ks)
        headers = [_short(name) for name in names]
        lines = [
            "| mode | " + " | ".join(headers) + " | queries | latency (ms) |",
            "|---|" + "---:|" * (len(headers) + 2),
        ]
        for mode, result in self.modes.items():
            cells = [f"{result.metrics[name]:.3f}" for name in names]
            lines.append(
                f"| {mode} | {' | '.join(cells)} | {result.queries} | {result.mean_latency_s * 1000:.0f} |"
            )
        languages = sorted({lang for result in self.modes.values() for lang in result.by_language})
        if len(languages) > 1:
            lines += ["", "| mode | lang | " + " | ".join(headers) + " | queries |"]
            lines.append("|---|---|" + "---:|" * (len(headers) + 1))
            for mode, result in self.modes.items():
                for lang, metrics in result.by_language.items():
                    cells = [f"{metrics[name]:.3f}" for name in names]
                    count = result.queries_by_language[lang]
                    lines.append(f"| {mode} | {lang} | {' | '.join(cells)} | {count} |")
        return "\n".join(lines) + "\n"


def _short(name: str) -> str:
    return name.replace("Recall@", "R@")


def select_queries(dataset: BeirDataset, max_queries: int | None = None, *, seed: int = 0) -> list[str]:
    """The judged queries, all or a seeded sample of ``max_queries``, sorted by id.

    A sample rather than the first n: ids often start with a language or chapter, and the
    first n would then measure one of them only.
    """
    ids = dataset.judged_query_ids()
    if max_queries is not None and max_queries < len(ids):
        ids = sorted(random.Random(seed).sample(ids, max(max_queries, 0)))
    return ids


def run_retrieval_eval(
    dataset: BeirDataset,
    *,
    modes: Mapping[str, Mode],
    ks: Sequence[int] = (1, 5, 10),
    max_queries: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> RetrievalReport:
    """Ask every mode every selected query; a mode's exception is not caught (it is a bug or a
    broken model, and a report with a silently failing mode would mislead)."""
    progress = progress or NullProgress()
    query_ids = select_queries(dataset, max_queries, seed=seed)
    qrels = {qid: dataset.qrels[qid] for qid in query_ids}
    query_lang = {qid: dataset.queries[qid].lang or "und" for qid in query_ids}
    counts: dict[str, int] = {}
    for lang in query_lang.values():
        counts[lang] = counts.get(lang, 0) + 1
    report = RetrievalReport(tuple(ks), query_ids, dataset.fingerprint)
    for name, mode in modes.items():
        run: dict[str, list[str]] = {}
        elapsed = 0.0
        with progress.task(f"evaluating {name}", total=len(query_ids)) as task:
            for qid in query_ids:
                query = dataset.queries[qid]
                started = time.perf_counter()
                ranking = mode(query.text, query.lang)
                elapsed += time.perf_counter() - started
                run[qid] = dedupe(ranking)
                task.advance()
        report.modes[name] = ModeResult(
            metrics=evaluate_run(run, qrels, ks),
            by_language=by_language(run, qrels, query_lang, ks),
            queries=len(query_ids),
            queries_by_language=dict(sorted(counts.items())),
            mean_latency_s=elapsed / len(query_ids) if query_ids else 0.0,
        )
    return report


def corpus_to_jsonl(dataset: BeirDataset, path: Path, *, title_in_text: bool = True) -> int:
    """Write the corpus as a JSONL file babelrag ingests; returns the number of documents.

    The corpus id goes into ``id``, which ingestion keeps as each chunk's ``doc_id``. With
    ``title_in_text`` the title is also the first line of the text, as BEIR evaluations embed
    ``title + text``: ingestion embeds only the text, and a section's title is often its best summary.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for doc in dataset.corpus.values():
            text = f"{doc.title}\n\n{doc.text}" if title_in_text and doc.title and doc.text else doc.text
            record = {"id": doc.id, "title": doc.title, "text": text or doc.title}
            if doc.lang:
                record["lang"] = doc.lang
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(dataset.corpus)


def hits_to_doc_ids(hits: Iterable[_HasMetadata]) -> list[str]:
    """Corpus ids of chunk hits (``metadata["doc_id"]``), first occurrence kept; hits without one
    (chunks of files outside the test corpus) are skipped."""
    ids = (hit.metadata.get("doc_id") for hit in hits)
    return dedupe(str(doc_id) for doc_id in ids if doc_id is not None and doc_id != "")
