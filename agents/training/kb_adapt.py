"""Adapting the retriever to a knowledge base with the generator as the teacher, with
sentence-transformers' trainer, and measuring it on the knowledge base's held-out questions.

Two objectives over the records of :mod:`.kb_data`:

- ``mnrl``: multiple-negatives ranking loss on (question, passage, hard negative), the other rows'
  passages as in-batch negatives (GPL, E5). The hard negative is the highest-ranked one the
  generator scores below the positive: one it rates at least as likely is probably another answer,
  and training against it would teach the wrong thing.
- ``kl``: REPLUG's LM-supervised retrieval: the KL divergence between the retriever's softmax over
  (positive, negatives) and the generator's, ``softmax(log P(question | passage) / β)`` (with
  β = 1 this is the generator's posterior over the candidates under a uniform prior), with
  sentence-transformers' ``DistillKLDivLoss``.

The evaluation ranks every passage of the knowledge base (up to a cap, the held-out questions'
passages always in) for each held-out question: MRR@10 and Recall@5 of the passage it was written
for, per language, before and after training.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from babelrag.agents.training.distill import (
    CARD,
    _last_checkpoint,
    _Progress,
    checkpoint_step,
    fingerprint,
    logged_losses,
    prepare_scratch,
    resumed_note,
    training_arguments,
)
from babelrag.agents.training.kb_data import Record
from babelrag.stores.errors import BabelragError
from babelrag.stores.progress import NullProgress, Progress

LOSSES = ("mnrl", "kl")


@dataclass
class AdaptConfig:
    loss: str = "mnrl"
    max_steps: int | None = None
    epochs: int = 1
    batch_size: int = 16
    learning_rate: float = 2e-5
    max_seq_length: int = 256
    seed: int = 42
    query_prompt: str = ""  # e5: "query: "
    document_prompt: str = ""  # e5: "passage: "
    student_temperature: float = 0.05  # the retriever's softmax over cosine similarities (MNRL's scale 20)
    lm_temperature: float = 1.0  # β of the generator's softmax over summed log-likelihoods


@dataclass
class AdaptReport:
    output: str
    kb: str
    student: str
    teacher: str
    loss: str
    passages: int
    questions: dict[str, dict[str, int]]  # split -> language -> kept questions
    dropped: dict[str, int]
    rows: int
    lm_agrees: float | None  # share of training questions whose own passage the generator scores highest
    steps: int
    seconds: float
    data_seconds: float
    loss_first: float | None
    loss_last: float | None
    data_file: str
    excluded: list[str] = field(default_factory=list)
    evaluation: dict[str, Any] = field(default_factory=dict)
    eval_corpus: int = 0  # passages each held-out question is ranked among
    resumed_at_step: int | None = None  # a stopped run continued: ``seconds`` are this run's alone


def new_report(
    records: Sequence[Record], *, output: Path, kb: str, student: str, teacher: str, loss: str,
    passages: int, data_file: Path, data_seconds: float,
) -> AdaptReport:  # fmt: skip
    """What the data says before training: questions kept per split and language, why others were
    dropped, and how often the generator scored a question's own passage highest."""
    questions: dict[str, dict[str, int]] = {}
    dropped: Counter[str] = Counter()
    for r in records:
        if r.kept:
            split = questions.setdefault(r.split, {})
            split[r.lang] = split.get(r.lang, 0) + 1
        else:
            dropped[r.reason.split(" (")[0]] += 1
    scored = [r for r in records if r.kept and r.split == "train" and len(r.lm_logprob) > 1]
    agrees = sum(r.lm_logprob[0] >= max(r.lm_logprob) for r in scored)
    return AdaptReport(
        output=str(output), kb=kb, student=student, teacher=teacher, loss=loss, passages=passages,
        questions=questions, dropped=dict(dropped), rows=0,
        lm_agrees=round(agrees / len(scored), 3) if scored else None, steps=0, seconds=0.0,
        data_seconds=data_seconds, loss_first=None, loss_last=None, data_file=str(data_file),
        excluded=[
            "Held-out documents (the evaluation) are never trained on: neither their questions nor "
            "their passages, as positives or as negatives."
        ],
    )  # fmt: skip


def training_rows(
    records: Sequence[Record], texts: dict[str, str], config: AdaptConfig, seed: int
) -> dict[str, list[Any]]:
    """Columns for the trainer: question, positive, negative(s), and for ``kl`` the LM scores."""
    rows = [r for r in records if r.kept and r.split == "train" and r.lm_logprob and r.passage_id in texts]
    if config.loss == "kl":
        # every row needs the same number of candidates: the most common one (a run with another
        # --negatives, or a small knowledge base, leaves some rows with other counts)
        counts = Counter(len(r.negatives) for r in rows if r.negatives)
        k = max(counts, key=lambda n: (counts[n], n)) if counts else 0
        rows = [r for r in rows if k and len(r.negatives) == k]
        columns: dict[str, list[Any]] = {"query": [], "positive": []}
        columns.update({f"negative_{i + 1}": [] for i in range(k)})
        columns["label"] = []
        for r in rows:
            columns["query"].append(r.question)
            columns["positive"].append(texts[r.passage_id])
            for i, cid in enumerate(r.negatives):
                columns[f"negative_{i + 1}"].append(texts[cid])
            columns["label"].append([float(x) for x in r.lm_logprob])
        return columns
    rng = random.Random(seed)
    train_ids = sorted({r.passage_id for r in rows})
    columns = {"query": [], "positive": [], "negative": []}
    for r in rows:
        below = [c for c, s in zip(r.negatives, r.lm_logprob[1:], strict=True) if s < r.lm_logprob[0]]
        negative = below[0] if below else rng.choice([p for p in train_ids if p != r.passage_id] or train_ids)
        columns["query"].append(r.question)
        columns["positive"].append(texts[r.passage_id])
        columns["negative"].append(texts[negative])
    return columns


def evaluate_questions(
    model: Any,
    questions: Sequence[Record],
    corpus: dict[str, str],
    *,
    query_prompt: str = "",
    document_prompt: str = "",
    batch_size: int = 16,
) -> dict[str, dict[str, float]]:
    """MRR@10 and Recall@5 of each question's own passage among ``corpus``, per language and for all."""
    import numpy as np

    ids = list(corpus)
    docs = model.encode(
        [document_prompt + corpus[i] for i in ids],
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
    )
    queries = model.encode(
        [query_prompt + q.question for q in questions],
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
    )
    position = {cid: n for n, cid in enumerate(ids)}
    sims = queries @ docs.T
    per: dict[str, list[tuple[float, float]]] = {}
    for q, row in zip(questions, sims, strict=True):
        rank = int((row > row[position[q.passage_id]]).sum()) + 1
        hit = (1.0 / rank if rank <= 10 else 0.0, 1.0 if rank <= 5 else 0.0)
        per.setdefault(q.lang, []).append(hit)
        per.setdefault("all", []).append(hit)
    return {
        lang: {
            "MRR@10": round(float(np.mean([h[0] for h in hits])), 4),
            "R@5": round(float(np.mean([h[1] for h in hits])), 4),
            "questions": len(hits),
        }
        for lang, hits in sorted(per.items())
    }


def evaluation_corpus(texts: dict[str, str], needed: set[str], cap: int, seed: int) -> dict[str, str]:
    """The knowledge base's passages, at most ``cap`` (a seeded sample that keeps ``needed``)."""
    if len(texts) <= cap:
        return dict(texts)
    others = sorted(set(texts) - needed)
    random.Random(seed).shuffle(others)
    keep = needed | set(others[: max(0, cap - len(needed))])
    return {i: t for i, t in texts.items() if i in keep}


def adapt(
    *,
    student: Any,
    records: Sequence[Record],
    texts: dict[str, str],
    output: Path,
    config: AdaptConfig,
    report: AdaptReport,
    progress: Progress | None = None,
    evaluate: Callable[[Any], dict[str, Any]] | None = None,
) -> AdaptReport:
    """Train ``student`` on ``records`` and save it (with the data folder it came from) to ``output``.

    ``report`` comes filled in with what the data step knows; training fills in the rest.
    """
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.losses import (
        DistillKLDivLoss,
        MultipleNegativesRankingLoss,
    )
    from sentence_transformers.util import pairwise_cos_sim

    progress = progress or NullProgress()
    if config.loss not in LOSSES:
        raise BabelragError(f"unknown loss {config.loss!r}", hint=f"choose one of {', '.join(LOSSES)}")
    columns = training_rows(records, texts, config, config.seed)
    n_rows = len(columns["query"])
    if n_rows < 2:
        raise BabelragError(
            f"only {n_rows} usable training questions",
            hint="raise --max-passages, or check the dropped questions in the data file",
        )
    started = time.perf_counter()
    before = evaluate(student) if evaluate else None
    student.max_seq_length = min(int(student.max_seq_length or 512), config.max_seq_length)
    if config.loss == "kl":
        loss = DistillKLDivLoss(
            student,
            similarity_fct=pairwise_cos_sim,
            student_temperature=config.student_temperature,
            teacher_temperature=config.lm_temperature,
        )
    else:
        loss = MultipleNegativesRankingLoss(student, scale=1.0 / config.student_temperature)
    prompts = {name: config.document_prompt for name in columns if name not in ("query", "label")}
    prompts["query"] = config.query_prompt
    scratch = output.parent / f".partial-{output.name}"
    prepare_scratch(scratch, {"config": asdict(config), "student": report.student,
                              "data": fingerprint(sorted(columns.items()))})  # fmt: skip
    args = training_arguments(
        config,
        scratch,
        save_every=(25, 200),
        batch_sampler="no_duplicates",  # the same passage twice in a batch would be its own negative
        prompts={k: v for k, v in prompts.items() if v},
    )
    trainer = SentenceTransformerTrainer(
        model=student,
        args=args,
        train_dataset=Dataset.from_dict(columns),
        loss=loss,
        callbacks=[_Progress(progress)],
    )
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # it prints every log line to stdout (our JSON goes there)
    resume = _last_checkpoint(scratch / "checkpoints")
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    after = evaluate(student) if evaluate else None

    report.rows = n_rows
    report.steps = int(trainer.state.global_step)
    report.seconds = round(time.perf_counter() - started, 1)
    losses = logged_losses(trainer)
    report.resumed_at_step = checkpoint_step(resume)
    report.loss_first = losses[0] if losses else None
    report.loss_last = losses[-1] if losses else None
    report.evaluation = {"before": before, "after": after} if evaluate else {}
    _save(student, output, scratch, report, config)
    return report


def _save(student: Any, output: Path, scratch: Path, report: AdaptReport, config: AdaptConfig) -> None:
    """The model folder replaces ``output``, taking the data folder along (a re-run reuses it)."""
    model_dir = scratch / "model"
    shutil.rmtree(model_dir, ignore_errors=True)
    student.save(str(model_dir))
    data_dir = Path(report.data_file).parent
    if data_dir.is_dir() and output in data_dir.parents:
        shutil.move(str(data_dir), str(model_dir / data_dir.name))
        report.data_file = str(output / data_dir.name / Path(report.data_file).name)
    (model_dir / CARD).write_text(json.dumps(asdict(report), indent=2, ensure_ascii=False) + "\n", "utf-8")
    (model_dir / "README.md").write_text(model_card(report, config), encoding="utf-8")
    shutil.rmtree(output, ignore_errors=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    model_dir.replace(output)
    shutil.rmtree(scratch, ignore_errors=True)


def model_card(report: AdaptReport, config: AdaptConfig) -> str:
    train = report.questions.get("train", {})
    held = report.questions.get("eval", {})
    langs = ", ".join(f"{k} {v}" for k, v in sorted(train.items()))
    objective = (
        "KL divergence toward the generator's distribution over the candidates (REPLUG; "
        f"LM temperature {config.lm_temperature}, retriever temperature {config.student_temperature})"
        if report.loss == "kl"
        else "multiple-negatives ranking loss with one hard negative per question (GPL)"
    )
    dropped = ", ".join(f"{k} {v}" for k, v in sorted(report.dropped.items())) or "none"
    lines = [
        f"# {Path(report.output).name}",
        "",
        f"`{report.student}` adapted to the knowledge base `{report.kb}` by `babelrag train retriever`,",
        f"with the generator `{report.teacher}` as the teacher: it wrote the questions and scored the",
        "candidate passages by the log-likelihood of each question given them.",
        "",
        f"- Data: {sum(train.values())} training questions ({langs}) from {report.passages} passages; "
        f"{sum(held.values())} held-out questions from documents never trained on; dropped: {dropped}. "
        f"The data: `{_relative(report.data_file, report.output)}`.",
        f"- Objective: {objective}; {report.rows} rows.",
        f"- Teacher agreement: the generator scored a question's own passage highest for "
        f"{_share(report.lm_agrees)} of the training questions.",
        f"- Steps: {report.steps} (batch {config.batch_size}, learning rate {config.learning_rate}, "
        f"max {config.max_seq_length} tokens); training and evaluation {report.seconds / 60:.1f} min"
        + resumed_note(report.resumed_at_step)
        + ", "
        + (
            f"data {report.data_seconds / 60:.1f} min on the CPU."
            if report.data_seconds
            else "the data reused from an earlier run."
        ),
        f"- Loss: {report.loss_first} at the start, {report.loss_last} at the end.",
    ]
    for note in report.excluded:
        lines.append(f"- {note}")
    if report.evaluation:
        among = f", each ranking {report.eval_corpus} passages" if report.eval_corpus else ""
        lines += ["", f"Held-out questions of the knowledge base{among}, before → after:", ""]
        lines += ["| language | questions | MRR@10 | R@5 |", "|---|---|---|---|"]
        before, after = report.evaluation.get("before") or {}, report.evaluation.get("after") or {}
        for lang in sorted(after or before):
            b, a = before.get(lang, {}), after.get(lang, {})
            n = a.get("questions", b.get("questions"))
            lines.append(
                f"| {lang} | {n} | {b.get('MRR@10')} → {a.get('MRR@10')} | {b.get('R@5')} → {a.get('R@5')} |"
            )
    return "\n".join(lines) + "\n"


def _relative(path: str, folder: str) -> str:
    try:
        return str(Path(path).relative_to(folder))
    except ValueError:
        return path


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"
