"""Adapting a tiny encoder to a tiny knowledge base from generated records: both objectives learn,
the folder loads with its card and data, held-out questions are measured and never trained on,
and a stopped training resumes from its checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from babelrag.agents.training.distill import CARD
from babelrag.agents.training.kb_adapt import (
    AdaptConfig,
    AdaptReport,
    adapt,
    evaluate_questions,
    evaluation_corpus,
    training_rows,
)
from babelrag.agents.training.kb_data import DataFile, Record
from babelrag.stores.errors import BabelragError
from tests.agents.training.test_distill import StopTraining as StopAt
from tests.agents.training.test_distill import tiny_encoder

pytestmark = pytest.mark.unit

TEXTS = {
    "p1": "the cat sleeps house",
    "p2": "the dog runs tree",
    "p3": "the cat eats red",
    "p4": "the dog eats blue",
    "p5": "red house tree",
    "p6": "blue tree house",
    "p7": "the cat runs blue",
    "p8": "the dog sleeps red",
}
QUESTIONS = {
    "p1": "die katze schläft haus",
    "p2": "die hund läuft baum",
    "p3": "die katze isst rot",
    "p4": "die hund isst blau",
    "p5": "rot haus baum",
    "p6": "blau baum haus",
    "p7": "die katze läuft blau",
    "p8": "die hund schläft rot",
}
HELD_OUT = {"p7", "p8"}


def records() -> list[Record]:
    ids = sorted(TEXTS)
    out = []
    for n, pid in enumerate(ids):
        split = "eval" if pid in HELD_OUT else "train"
        negatives = [] if split == "eval" else [ids[(n + 1) % 6], ids[(n + 2) % 6]]
        scores = [] if split == "eval" else [-2.0, -1.0 if n == 0 else -6.0, -9.0]  # p1: the LM prefers p2
        out.append(Record(pid, f"{pid}.md#0", split, "de", QUESTIONS[pid], True, "", negatives, scores, 4))
    out.append(Record("p1", "p1.md#0", "train", "zh", "", False, "empty"))
    return out


def report_for(output: Path, data_file: Path) -> AdaptReport:
    return AdaptReport(
        output=str(output), kb="tiny", student="tiny-student", teacher="scripted", loss="mnrl", passages=8,
        questions={"train": {"de": 6}, "eval": {"de": 2}}, dropped={"empty": 1}, rows=0, lm_agrees=0.83,
        steps=0, seconds=0.0, data_seconds=1.0, loss_first=None, loss_last=None, data_file=str(data_file),
        excluded=["Held-out documents are never trained on."],
    )  # fmt: skip


def test_rows_never_hold_held_out_questions_and_skip_negatives_the_lm_prefers() -> None:
    rows = training_rows(records(), TEXTS, AdaptConfig(loss="mnrl"), seed=1)
    assert len(rows["query"]) == 6 and not set(rows["query"]) & {QUESTIONS[p] for p in HELD_OUT}
    first = rows["query"].index(QUESTIONS["p1"])
    assert rows["negative"][first] == TEXTS["p3"], "p2 scored above the positive: probably an answer too"
    kl = training_rows(records(), TEXTS, AdaptConfig(loss="kl"), seed=1)
    assert set(kl) == {"query", "positive", "negative_1", "negative_2", "label"}
    assert kl["label"][0] == [-2.0, -1.0, -9.0] and len(kl["query"]) == 6


def test_evaluation_ranks_each_question_s_passage_per_language() -> None:
    class Exact:
        def encode(self, texts, **kwargs):
            import numpy as np

            keys = sorted(TEXTS)
            return np.array(
                [[1.0 if TEXTS[k] == t or QUESTIONS[k] == t else 0.0 for k in keys] for t in texts]
            )

    held = [r for r in records() if r.split == "eval"]
    held.append(Record("p1", "p1.md#0", "eval", "zh", QUESTIONS["p2"], True))  # ranks p2 first, p1 tied below
    result = evaluate_questions(Exact(), held, TEXTS)
    assert result["de"] == {"MRR@10": 1.0, "R@5": 1.0, "questions": 2}
    assert result["zh"]["MRR@10"] < 1.0 and result["all"]["questions"] == 3
    corpus = evaluation_corpus(TEXTS, {"p7"}, cap=3, seed=1)
    assert len(corpus) == 3 and "p7" in corpus


@pytest.mark.parametrize("loss", ["mnrl", "kl"])
def test_the_student_learns_and_is_saved_with_its_card_and_data(tmp_path: Path, loss: str) -> None:
    from sentence_transformers import SentenceTransformer

    student = tiny_encoder(tmp_path / "student", 32, seed=3)
    output = tmp_path / "adapted"
    data = DataFile(output / "training-data" / "questions.jsonl")
    data.append(records())
    held = [r for r in records() if r.split == "eval"]
    report = report_for(output, data.path)
    report.loss = loss
    result = adapt(
        student=student,
        records=records(),
        texts=TEXTS,
        output=output,
        config=AdaptConfig(loss=loss, max_steps=40, batch_size=3, learning_rate=2e-3),
        report=report,
        evaluate=lambda m: evaluate_questions(m, held, TEXTS),
    )
    assert result.steps == 40 and result.rows == 6
    assert result.loss_last < result.loss_first
    assert set(result.evaluation) == {"before", "after"}
    assert result.evaluation["after"]["de"]["questions"] == 2
    loaded = SentenceTransformer(str(output), device="cpu")
    assert loaded.get_embedding_dimension() == 32
    card = json.loads((output / CARD).read_text())
    assert card["loss"] == loss and card["steps"] == 40 and card["kb"] == "tiny"
    assert card["data_file"] == str(output / "training-data" / "questions.jsonl")
    assert len(DataFile(Path(card["data_file"])).read()) == 9, "the data moved into the model folder"
    readme = (output / "README.md").read_text()
    assert "| de | 2 |" in readme and "never trained on" in readme
    assert not list(tmp_path.glob(".partial-*"))


def test_a_stopped_training_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    output = tmp_path / "adapted"
    data = DataFile(output / "training-data" / "questions.jsonl")
    data.append(records())
    config = AdaptConfig(max_steps=30, batch_size=3, learning_rate=1e-3)

    def run(progress: StopAt) -> AdaptReport:
        return adapt(
            student=tiny_encoder(tmp_path / "student", 32, seed=3), records=records(), texts=TEXTS,
            output=output, config=config, report=report_for(output, data.path), progress=progress,
        )  # fmt: skip

    with pytest.raises(KeyboardInterrupt):
        run(StopAt(27))
    assert (tmp_path / ".partial-adapted" / "checkpoints" / "checkpoint-25").is_dir()
    second = StopAt(None)
    result = run(second)
    assert result.steps == 30 and second.steps == 5, "steps 26-30 only: resumed at the checkpoint"
    assert result.resumed_at_step == 25 and "resumed at step 25" in (output / "README.md").read_text()
    assert (output / CARD).exists() and not (tmp_path / ".partial-adapted").exists()


def test_too_few_questions_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BabelragError, match="usable training questions"):
        adapt(
            student=None, records=[r for r in records() if r.split == "eval"], texts=TEXTS,
            output=tmp_path / "o", config=AdaptConfig(), report=report_for(tmp_path / "o", tmp_path / "d"),
        )  # fmt: skip
