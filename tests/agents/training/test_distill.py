"""Distillation on tiny models the test builds: the loss goes down, a loadable folder with a card."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from babelrag.agents.training.distill import (
    CARD,
    DistillConfig,
    distill,
    fit_projection,
    sample_pairs,
    training_rows,
)
from babelrag.stores.errors import BabelragError

pytestmark = pytest.mark.unit

# six English sentences and their (word-for-word) German, in the tiny encoders' vocabulary
ENGLISH = ("the cat sleeps", "the dog runs", "the cat eats", "red house", "blue tree", "the dog eats")
GERMAN = ("die katze schläft", "die hund läuft", "die katze isst", "rot haus", "blau baum", "die hund isst")
WORDS = (
    "the cat dog sleeps runs eats house tree red blue die katze hund schläft läuft isst haus baum rot blau"
)


def tiny_encoder(folder: Path, hidden: int, seed: int):
    import torch
    from sentence_transformers import SentenceTransformer, models
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS.split()])}
    tok = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = Whitespace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
    )
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=2 * hidden, max_position_embeddings=64,
    )  # fmt: skip
    BertModel(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    transformer = models.Transformer(str(folder), max_seq_length=32)
    return SentenceTransformer(modules=[transformer, models.Pooling(hidden, "mean")], device="cpu")


def test_the_student_learns_the_teachers_space_and_is_saved_with_a_card(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    teacher = tiny_encoder(tmp_path / "teacher", 48, seed=1)
    student = tiny_encoder(tmp_path / "student", 32, seed=2)
    rows = [("de", e, g, "tiny") for e, g in zip(ENGLISH, GERMAN, strict=True)] * 4
    out = tmp_path / "distilled"
    report = distill(
        teacher=teacher,
        student=student,
        teacher_id="tiny-teacher",
        student_id="tiny-student",
        rows=rows,
        output=out,
        config=DistillConfig(max_pairs=24, max_steps=30, batch_size=8, learning_rate=5e-3),
        evaluate=lambda model: {"dimension": model.get_embedding_dimension()},
    )
    assert report.steps == 30  # the teacher's 48 dimensions are mapped into the student's 32
    assert report.projection is not None and (
        report.projection["teacher_dim"],
        report.projection["student_dim"],
    ) == (48, 32)
    assert report.loss_last < report.loss_first
    assert report.rows == 3 * report.pairs  # two MSE rows and, by default, one ranking row a pair
    assert report.evaluation == {"before": {"dimension": 32}, "after": {"dimension": 32}}
    loaded = SentenceTransformer(str(out), device="cpu")
    assert loaded.get_embedding_dimension() == 32  # still a drop-in for the student
    card = json.loads((out / CARD).read_text())
    assert card["teacher"] == "tiny-teacher" and card["languages"] == {"de": 6}
    assert "Debian Reference" in (out / "README.md").read_text()
    assert not list(tmp_path.glob(".partial-*")), "the scratch folder is removed"


def test_the_teachers_vectors_are_mapped_into_the_students_space_without_collapsing() -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    student = rng.normal(size=(200, 8))
    student /= np.linalg.norm(student, axis=1, keepdims=True)
    # a teacher whose space holds the student's (a larger random linear image of it, plus noise)
    teacher = student @ rng.normal(size=(8, 24)) + 0.01 * rng.normal(size=(200, 24))
    teacher /= np.linalg.norm(teacher, axis=1, keepdims=True)
    mapped, info = fit_projection(teacher, student)
    assert mapped.shape == (200, 8) and np.allclose(np.linalg.norm(mapped, axis=1), 1, atol=1e-5)
    assert info["cosine"] > 0.95 and (info["teacher_dim"], info["student_dim"], info["sentences"]) == (
        24,
        8,
        200,
    )
    # the sentences stay apart (a map that collapsed would put them all near one vector)
    assert float(np.mean(mapped @ mapped.T)) < 0.2


def test_pairs_are_sampled_evenly_and_nothing_to_train_on_is_an_error(tmp_path: Path) -> None:
    rows = [("de", f"e{i}", f"d{i}", "x") for i in range(10)] + [
        ("ja", f"e{i}", f"j{i}", "x") for i in range(3)
    ]
    picked = sample_pairs(rows, 6, seed=1)
    assert sorted(r[0] for r in picked) == ["de", "de", "de", "ja", "ja", "ja"]
    with pytest.raises(BabelragError, match="no parallel pairs"):
        distill(
            teacher=None, student=None, teacher_id="t", student_id="s", rows=[], output=tmp_path / "o",
            config=DistillConfig(),
        )  # fmt: skip


def test_the_english_side_is_trained_as_a_query_and_the_translation_as_a_passage() -> None:
    pairs = [("de", f"e{i}", f"d{i}", "x") for i in range(4)]
    rows = training_rows(pairs, 2)
    assert len(rows) == 8
    assert all(en == f"e{text[1:]}" for text, _k, en in rows)  # each row's target: its pair's English
    assert {k for text, k, _ in rows if text.startswith("e")} == {0}
    assert {k for text, k, _ in rows if text.startswith("d")} == {1}
    assert {k for _t, k, _ in training_rows(pairs, 1)} == {0}


def test_resuming_skips_a_checkpoint_that_a_crash_cut_short(tmp_path) -> None:
    from babelrag.agents.training.distill import _last_checkpoint

    assert _last_checkpoint(tmp_path / "none") is None
    for step, state in ((2, '{"global_step": 2}'), (4, None), (6, '{"global_st')):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"weights")
        if state is not None:
            (folder / "trainer_state.json").write_text(state, encoding="utf-8")
    (tmp_path / "checkpoint-tmp").mkdir()
    assert _last_checkpoint(tmp_path) == tmp_path / "checkpoint-2"


class StopTraining:
    """A progress whose training task stops the run (as Ctrl-C would) after ``n`` steps."""

    def __init__(self, n: int | None) -> None:
        self.n = n
        self.steps = 0

    @contextmanager
    def task(self, description: str, total: float | None = None):
        outer = self

        class Task:
            def advance(self, amount: float = 1) -> None:
                if not description.startswith("training"):
                    return
                outer.steps += 1
                if outer.n is not None and outer.steps >= outer.n:
                    raise KeyboardInterrupt

        yield Task()

    def log(self, message: str) -> None:
        return None


def test_a_stopped_run_resumes_and_another_run_starts_over(tmp_path: Path) -> None:
    teacher = tiny_encoder(tmp_path / "teacher", 32, seed=1)
    rows = [("de", "the cat sleeps", "die katze schläft", "t"), ("de", "the dog runs", "die hund läuft", "t")]
    scratch = tmp_path / ".partial-distilled"

    def run(progress: StopTraining, learning_rate: float = 1e-3) -> Any:
        return distill(
            teacher=teacher, student=tiny_encoder(tmp_path / "student", 32, seed=2), teacher_id="t",
            student_id="s", rows=rows, output=tmp_path / "distilled", progress=progress,
            config=DistillConfig(max_steps=60, batch_size=2, learning_rate=learning_rate),
        )  # fmt: skip

    with pytest.raises(KeyboardInterrupt):
        run(StopTraining(55))
    assert (scratch / "checkpoints" / "checkpoint-50").is_dir()
    resumed = StopTraining(None)
    report = run(resumed)
    assert report.steps == 60 and resumed.steps == 10, "steps 51-60 only: resumed at the checkpoint"
    assert report.resumed_at_step == 50 and report.loss_first is not None
    assert "resumed at step 50" in (tmp_path / "distilled" / "README.md").read_text()
    assert not scratch.exists() and (tmp_path / "distilled" / CARD).exists()

    with pytest.raises(KeyboardInterrupt):
        run(StopTraining(55))
    other = StopTraining(None)
    assert run(other, learning_rate=2e-3).steps == 60 and other.steps == 60, "other settings: from the start"


def test_the_ranking_loss_sets_a_translations_english_apart_from_the_others(tmp_path: Path) -> None:
    """--ranking: beside the MSE rows, (translation as a query, its English as a document) with
    the batch's other English sides as negatives. MSE alone also brings each German sentence
    nearest its English here; the ranking loss pushes the other English sentences away."""
    import numpy as np

    rows = [("de", e, g, "tiny") for e, g in zip(ENGLISH, GERMAN, strict=True)]

    def trained(ranking: bool) -> tuple[float, float]:
        student = tiny_encoder(tmp_path / f"student-{ranking}", 32, seed=3)
        out = tmp_path / f"ranked-{ranking}"
        config = DistillConfig(max_pairs=6, max_steps=60, batch_size=6, learning_rate=5e-3, ranking=ranking)
        report = distill(
            teacher=student, student=student, teacher_id="tiny", student_id="tiny", rows=rows, output=out,
            config=config,
        )  # fmt: skip
        assert report.rows == (3 if ranking else 2) * 6  # two MSE rows a pair, and one ranking row
        assert ("ranking loss" in (out / "README.md").read_text()) is ranking
        sims = (
            student.encode(list(GERMAN), normalize_embeddings=True)
            @ student.encode(list(ENGLISH), normalize_embeddings=True).T
        )
        accuracy = float(np.mean(np.argmax(sims, axis=1) == np.arange(len(GERMAN))))
        margin = float(np.mean(np.diag(sims)) - (sims.sum() - np.trace(sims)) / (sims.size - len(GERMAN)))
        return accuracy, margin

    mse_accuracy, mse_margin = trained(False)
    accuracy, margin = trained(True)
    assert accuracy == mse_accuracy == 1.0
    assert margin > 2 * mse_margin > 0  # measured: .47 against .10
