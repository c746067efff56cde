"""Multilingual knowledge distillation (Reimers & Gurevych, 2020) with sentence-transformers'
trainer: a student learns to put an English sentence and its translation where the teacher puts
the English one.

The teacher (e.g. EmbeddingGemma) embeds the English side once; every pair gives two training
rows, (English, teacher vector) and (translation, teacher vector), trained with ``MSELoss``;
with ``ranking`` (the default) every pair also trains the retrieval direction itself with
``MultipleNegativesRankingLoss``: the translation as a query must find its English, as a document,
among the batch's other English sides (lifted German titles and French openings most). A
teacher other than the student is first mapped into the student's space by a fixed linear map,
fitted by least squares from the teacher's English vectors to the student's own (e5's vectors are
almost a linear function of EmbeddingGemma's: cosine .97 after the map), so the student keeps its
size and geometry, stays a drop-in embedder, and learns where the teacher's knowledge puts each
sentence. A projection learned *during* training (sentence-transformers' ``projection_dim``)
collapsed: the loss fell by mapping everything to the teacher's mean vector. (Measured: through
the map EmbeddingGemma trains sanely, but e5 learns more from itself; README.) The output is a normal
sentence-transformers folder with a model card (``babelrag-training.json`` and ``README.md``):
teacher, data, steps, wall time, and the evaluation before and after when one was run.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from babelrag.agents.training.parallel import DICTIONARY_SOURCE, stratum
from babelrag.stores.errors import BabelragError
from babelrag.stores.progress import NullProgress, Progress

CARD = "babelrag-training.json"


@dataclass
class DistillConfig:
    max_pairs: int = 20000
    max_steps: int | None = None
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 5e-6
    max_seq_length: int = 96
    seed: int = 42
    student_prompts: tuple[str, ...] = ("",)  # each row is trained with one, in turn (e5: query:/passage:)
    # what the teacher prepends to the English side for a row trained with the student prompt at the
    # same index (a teacher with the same prompts: the same ones); empty: the first, or none
    teacher_prompts: tuple[str, ...] = ()
    # beside the MSE rows, a ranking loss on (translation as a query, English as a document) with
    # the batch's other English sides as negatives: the cross-lingual retrieval direction itself
    # (measured, session 10: German titles +.024 -> +.040, French openings +.043 -> +.078; README)
    ranking: bool = True
    ranking_scale: float = 20.0  # MultipleNegativesRankingLoss' scale (1 / temperature)


@dataclass
class DistillReport:
    output: str
    teacher: str
    student: str
    pairs: int
    rows: int
    languages: dict[str, int]
    sources: int
    steps: int
    seconds: float
    loss_first: float | None
    loss_last: float | None
    # the teacher's vectors mapped into the student's space (another teacher than the student):
    # dimensions and the mean cosine of the mapped English vectors to the student's own
    projection: dict[str, Any] | None
    excluded: list[str] = field(default_factory=list)
    dictionaries: list[str] = field(default_factory=list)  # dictd dictionaries the terms came from
    evaluation: dict[str, Any] = field(default_factory=dict)
    resumed_at_step: int | None = None  # a stopped run continued: ``seconds`` are this run's alone


def sample_pairs(
    rows: Sequence[tuple[str, str, str, str]], max_pairs: int, seed: int
) -> list[tuple[str, str, str, str]]:
    """At most ``max_pairs`` distinct rows, the same share from every language, reproducibly.

    A language's dictionary terms are a share of their own (``de terms``): drawn among thousands
    of sentences, a few terms would be seen in proportion to their number, and each only once."""
    by_lang: dict[str, list[tuple[str, str, str, str]]] = {}
    for row in dict.fromkeys(rows):
        by_lang.setdefault(stratum(row), []).append(row)
    rng = random.Random(seed)
    per_lang = max(1, max_pairs // max(1, len(by_lang)))
    out: list[tuple[str, str, str, str]] = []
    for lang in sorted(by_lang):
        items = list(by_lang[lang])
        rng.shuffle(items)
        out += items[:per_lang]
    rng.shuffle(out)
    return out


def training_rows(pairs: Sequence[tuple[str, str, str, str]], n_prompts: int) -> list[tuple[str, int, str]]:
    """(text, prompt index, English) for the two rows of every pair, each trained toward the
    teacher's English vector under the same prompt: the English side under the first prompt, the
    translation under the second (e5: the English as a query, the translation as a passage).

    Measured (session 9, 16,000 pairs over all judged Debian Reference titles): training the
    translation as a query too, the prompts going round over the pairs, lowered German titles
    from .946 to .911 and Spanish from .938 to .910 (e5 before: .922, .932), and no language
    gained; a translation trained as a passage lifts the queries in its language through the
    shared weights without pulling them off the English passages they must find. Training only
    the dictionary terms as queries too did the same on a smaller scale (German .946 -> .938).
    """
    n = max(1, n_prompts)
    return [(text, r % n, en) for _l, en, tr, _s in pairs for r, text in enumerate((en, tr))]


def distill(
    *,
    teacher: Any,
    student: Any,
    teacher_id: str,
    student_id: str,
    rows: Sequence[tuple[str, str, str, str]],
    output: Path,
    config: DistillConfig,
    progress: Progress | None = None,
    evaluate: Callable[[Any], dict[str, Any]] | None = None,
) -> DistillReport:
    """Train ``student`` (a SentenceTransformer) toward ``teacher`` on ``rows`` and save it to ``output``.

    ``evaluate(model)`` (optional) is called before and after training; its results go into the card.
    """
    import numpy as np
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.losses import MSELoss

    progress = progress or NullProgress()
    if not rows:
        raise BabelragError(
            "no parallel pairs to train on", hint="check the TSV (babelrag train fetch-parallel)"
        )
    pairs = sample_pairs(rows, config.max_pairs, config.seed)
    started = time.perf_counter()
    before = evaluate(student) if evaluate else None

    prompts = config.student_prompts or ("",)
    given = config.teacher_prompts or ("",)
    teacher_prompts = [given[k] if k < len(given) else given[0] for k in range(len(prompts))]
    plan = training_rows(pairs, len(prompts))
    keys = sorted({(k, en) for _text, k, en in plan})
    targets = _embed(teacher, [teacher_prompts[k] + en for k, en in keys], progress,
                     "teacher: embedding the English side")  # fmt: skip
    projection = None
    if teacher_id != student_id:  # another model: its space is not the student's
        own = _embed(
            student, [prompts[k] + en for k, en in keys], progress, "student: embedding the English side"
        )
        targets, projection = fit_projection(targets, own)
    vectors = dict(zip(keys, targets, strict=True))

    texts = [prompts[k] + text for text, k, _en in plan]
    labels = [vectors[(k, en)] for _text, k, en in plan]
    dataset = Dataset.from_dict({"sentence": texts, "label": np.asarray(labels, dtype=np.float32).tolist()})

    student.max_seq_length = min(int(student.max_seq_length or 512), config.max_seq_length)
    loss = MSELoss(student)
    scratch = output.parent / f".partial-{output.name}"
    prepare_scratch(scratch, {"config": asdict(config), "teacher": teacher_id, "student": student_id,
                              "data": fingerprint(pairs)})  # fmt: skip
    args = training_arguments(config, scratch, save_every=(50, 500))
    train: Any = dataset
    objectives: Any = loss
    if config.ranking:
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

        anchor, positive = prompts[0], prompts[-1]  # e5: "query: " and "passage: "
        ranking = Dataset.from_dict({"anchor": [anchor + tr for _l, _en, tr, _s in pairs],
                                     "positive": [positive + en for _l, en, _tr, _s in pairs]})  # fmt: skip
        train = {"distill": dataset, "ranking": ranking}
        objectives = {
            "distill": loss,
            "ranking": MultipleNegativesRankingLoss(student, scale=config.ranking_scale),
        }
    trainer = SentenceTransformerTrainer(
        model=student, args=args, train_dataset=train, loss=objectives, callbacks=[_Progress(progress)]
    )
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # it prints every log line to stdout (our JSON goes there)
    resume = _last_checkpoint(scratch / "checkpoints")
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    after = evaluate(student) if evaluate else None
    losses = logged_losses(trainer)

    report = DistillReport(
        output=str(output),
        teacher=teacher_id,
        student=student_id,
        pairs=len(pairs),
        rows=len(texts) + (len(pairs) if config.ranking else 0),
        languages=_count(stratum(p) for p in pairs),
        sources=len({p[3] for p in pairs if not p[3].startswith(DICTIONARY_SOURCE)}),
        dictionaries=sorted(
            {p[3].removeprefix(DICTIONARY_SOURCE) for p in pairs if p[3].startswith(DICTIONARY_SOURCE)}
        ),
        steps=int(trainer.state.global_step),
        seconds=round(time.perf_counter() - started, 1),
        loss_first=losses[0] if losses else None,
        loss_last=losses[-1] if losses else None,
        projection=projection,
        excluded=["Debian Reference (the evaluation corpus): its catalogs are never read"],
        evaluation={"before": before, "after": after} if evaluate else {},
        resumed_at_step=checkpoint_step(resume),
    )
    model_dir = scratch / "model"
    shutil.rmtree(model_dir, ignore_errors=True)
    student.save(str(model_dir))
    card = json.dumps(asdict(report), indent=2, ensure_ascii=False) + "\n"
    (model_dir / CARD).write_text(card, encoding="utf-8")
    (model_dir / "README.md").write_text(model_card(report, config), encoding="utf-8")
    shutil.rmtree(output, ignore_errors=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    model_dir.replace(output)
    shutil.rmtree(scratch, ignore_errors=True)
    return report


def model_card(report: DistillReport, config: DistillConfig) -> str:
    langs = ", ".join(f"{k} {v}" for k, v in sorted(report.languages.items()))
    lines = [
        f"# {Path(report.output).name}",
        "",
        f"A multilingual-distilled student of `{report.student}`, trained by `babelrag train distill`",
        f"toward the teacher `{report.teacher}` (MSE on the teacher's English vectors;",
        "Reimers & Gurevych, 2020).",
        "",
        f"- Data: {report.pairs} English–translation pairs from the gettext catalogs of {report.sources} "
        f"Debian text domains"
        + (f" and terms from {', '.join(report.dictionaries)}" if report.dictionaries else "")
        + f" ({langs}); {report.rows} training rows.",
        "- Never trained on: Debian Reference, the evaluation corpus.",
        f"- Steps: {report.steps} (batch {config.batch_size}, learning rate {config.learning_rate}, "
        f"max {config.max_seq_length} tokens); wall time {report.seconds / 60:.1f} min on the CPU"
        + resumed_note(report.resumed_at_step)
        + ".",
        f"- Loss: {report.loss_first} at the start, {report.loss_last} at the end.",
    ]
    if config.ranking:
        lines.append(
            f"- Beside the MSE rows, every pair was trained once more with a ranking loss (multiple "
            f"negatives, scale {config.ranking_scale}): the translation as a query, its English as "
            "the document, the batch's other English sides as negatives (the loss above mixes "
            "both kinds of batch)."
        )
    if report.projection:
        p = report.projection
        lines.append(
            f"- The teacher's {p['teacher_dim']}-dimensional vectors were mapped into the student's "
            f"{p['student_dim']} dimensions by a fixed linear map, fitted by least squares on "
            f"{p['sentences']} English sentences (mean cosine to the student's own vectors {p['cosine']})."
        )
    if report.evaluation:
        evaluation = json.dumps(report.evaluation, indent=1)
        lines += ["", "Evaluation before / after:", "", "```json", evaluation, "```"]
    return "\n".join(lines) + "\n"


def _embed(model: Any, texts: list[str], progress: Progress, label: str) -> Any:
    import numpy as np

    parts = []
    with progress.task(label, total=len(texts)) as task:
        for start in range(0, len(texts), 64):
            batch = texts[start : start + 64]
            parts.append(model.encode(batch, batch_size=32, normalize_embeddings=True, convert_to_numpy=True))
            task.advance(len(batch))
    return np.vstack(parts)


def fit_projection(teacher: Any, student: Any, ridge: float = 1e-2) -> tuple[Any, dict[str, Any]]:
    """Map the teacher's vectors (rows) into the student's space: the ridge least-squares linear
    map from the teacher's English vectors to the student's own, fixed before training. Returns
    the mapped, normalised vectors and what the card says about the map."""
    import numpy as np

    t = np.asarray(teacher, dtype=np.float64)
    s = np.asarray(student, dtype=np.float64)
    w = np.linalg.solve(t.T @ t + ridge * np.eye(t.shape[1]), t.T @ s)
    mapped = t @ w
    mapped /= np.maximum(np.linalg.norm(mapped, axis=1, keepdims=True), 1e-12)
    cosine = float((mapped * s).sum(axis=1).mean())
    info = {"teacher_dim": int(t.shape[1]), "student_dim": int(s.shape[1]), "sentences": int(t.shape[0]),
            "cosine": round(cosine, 3)}  # fmt: skip
    return mapped.astype(np.float32), info


def _count(items: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


def fingerprint(items: Any) -> str:
    """A digest of the training data, in order (a checkpoint holds the sampler's place in it)."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(json.dumps(item, ensure_ascii=False, default=str).encode("utf-8") + b"\n")
    return digest.hexdigest()


def prepare_scratch(scratch: Path, run: dict[str, Any]) -> None:
    """Keep the checkpoints of an interrupted run of the same training (same data, same settings),
    so that the same command resumes it; clear those of any other run, which resuming would
    continue with other data or settings. ``run.json`` in the folder says which run it holds."""
    marker = scratch / "run.json"
    text = json.dumps(run, sort_keys=True, ensure_ascii=False, default=str)
    try:
        same = marker.read_text(encoding="utf-8") == text
    except OSError:
        same = False
    if not same:
        shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True, exist_ok=True)
    marker.write_text(text, encoding="utf-8")


def resumed_note(step: int | None) -> str:
    return f" (resumed at step {step}: the time after it)" if step else ""


def checkpoint_step(checkpoint: Path | None) -> int | None:
    return int(checkpoint.name.rsplit("-", 1)[-1]) if checkpoint else None


def logged_losses(trainer: Any) -> list[float]:
    """Every logged training loss of the run, a resumed run's earlier ones too (the checkpoint
    carries them in the trainer's log history)."""
    return [round(float(h["loss"]), 6) for h in trainer.state.log_history if "loss" in h]


def _last_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint. The trainer writes ``trainer_state.json`` last: a run killed
    while saving leaves a folder without it (or with it cut short), which resuming would fail on."""
    if not folder.is_dir():
        return None
    found = sorted(
        (p for p in folder.glob("checkpoint-*") if p.name.rsplit("-", 1)[-1].isdigit()),
        key=lambda p: int(p.name.rsplit("-", 1)[-1]),
    )
    return next((p for p in reversed(found) if _complete_checkpoint(p)), None)


def _complete_checkpoint(path: Path) -> bool:
    try:
        return isinstance(json.loads((path / "trainer_state.json").read_text(encoding="utf-8")), dict)
    except (OSError, ValueError):
        return False


def _Progress(progress: Progress) -> Any:
    """A transformers TrainerCallback that drives our progress bar."""
    from transformers import TrainerCallback

    class Callback(TrainerCallback):
        def __init__(self) -> None:
            self.context = None
            self.task = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.context = progress.task("training the student", total=state.max_steps)
            self.task = self.context.__enter__()

        def on_step_end(self, args, state, control, **kwargs):
            if self.task is not None:
                self.task.advance(1)

        def on_train_end(self, args, state, control, **kwargs):
            if self.context is not None:
                self.context.__exit__(None, None, None)

    return Callback()


def training_arguments(config: Any, scratch: Path, *, save_every: tuple[int, int], **extra: Any) -> Any:
    """The trainer's arguments shared by ``train distill`` and ``train retriever``: checkpoints in
    ``scratch`` (one kept, every quarter of the steps but at least ``save_every[0]`` apart; a
    quarter of ``save_every[1]`` without a step budget), CPU, no reporting, our own progress."""
    from sentence_transformers import SentenceTransformerTrainingArguments

    floor, default = save_every
    return SentenceTransformerTrainingArguments(
        output_dir=str(scratch / "checkpoints"),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps if config.max_steps else -1,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        warmup_steps=0.1,  # a float: the share of the steps
        seed=config.seed,
        logging_steps=max(1, (config.max_steps or 100) // 20),
        save_strategy="steps",
        save_steps=max(floor, (config.max_steps or default) // 4),
        save_total_limit=1,
        report_to=[],
        disable_tqdm=True,
        use_cpu=True,
        **extra,
    )
