"""``babelrag train retriever`` end to end with fakes: a keyword-embedded knowledge base, a scripted
generator and a tiny student; then the bad inputs, each a one-line error before any training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from babelrag.agents.cli import app
from babelrag.agents.config import load_settings
from babelrag.agents.runtime import Runtime
from babelrag.stores.errors import BabelragError, StoreError
from babelrag.stores.fakes import KeywordEmbeddings
from tests.agents.training.test_distill import tiny_encoder
from tests.chat_fakes import FakeLLM
from tests.store_cases import write_kb

pytestmark = pytest.mark.unit

REPLIES = ["Wie bereitet man grünen Tee richtig zu?", "Wie oft muss man die Fahrradkette ölen?"]


class ScoringFakeLLM(FakeLLM):
    """Scripted questions; a question scores higher given a passage that shares its words."""

    scored: int = 0

    def continuation_logprobs(self, messages, continuation: str) -> list[float]:
        self.scored += 1
        prompt = str(messages[-1].content).lower()
        return [-1.0 if word.lower().strip("?") in prompt else -3.0 for word in continuation.split()]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    embedder = KeywordEmbeddings(dimension=128)
    monkeypatch.setattr(Runtime, "embedder", property(lambda self: embedder))
    home = tmp_path / "home"
    rt = Runtime(load_settings(home=home, kb="docs"))
    report = rt.ingestor().ingest([write_kb(tmp_path)])
    assert not report.failed
    return home


def run(home: Path, *args: str):
    return CliRunner().invoke(app, ["--quiet", "--home", str(home), "train", "retriever", *args])


def test_trains_reports_the_held_out_questions_and_reuses_its_data(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm = ScoringFakeLLM(responses=REPLIES * 20)
    monkeypatch.setattr(Runtime, "llm", property(lambda self: llm))
    tiny_encoder(tmp_path / "student", 32, seed=1)
    monkeypatch.setattr(
        "babelrag.agents.hf_models.load_sentence_transformer",
        lambda location, device, **kw: tiny_encoder(tmp_path / "student-copy", 32, seed=1),
    )
    out = tmp_path / "adapted"
    args = ["--kb", "docs", "--out", str(out), "--langs", "de", "--eval-fraction", "0.34",
            "--negatives", "1", "--student", str(tmp_path / "student"), "--max-steps", "2",
            "--batch-size", "2", "--json"]  # fmt: skip
    result = run(home, *args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # progress bars go to stderr
    assert report["steps"] == 2 and report["kb"] == "docs" and report["loss"] == "mnrl"
    assert report["questions"]["train"]["de"] >= 2 and report["questions"]["eval"]["de"] >= 1
    assert report["evaluation"]["before"]["de"]["questions"] == report["questions"]["eval"]["de"]
    data = out / "training-data" / "questions.jsonl"
    assert report["data_file"] == str(data)
    lines = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
    assert all(r["lm_logprob"] for r in lines if r["split"] == "train" and r["kept"])
    asked, scored = len(llm.seen), llm.scored
    assert asked == len(lines) and scored > 0

    again = run(home, *args[:-1], "--loss", "kl")
    assert again.exit_code == 0, again.output
    assert len(llm.seen) == asked and llm.scored == scored, "the data was reused, nothing generated"
    assert "held-out de" in again.output and "kb reembed --embedder" in again.output


def test_an_unknown_knowledge_base_is_an_error(home: Path, tmp_path: Path) -> None:
    result = run(home, "--kb", "nope", "--out", str(tmp_path / "o"), "--langs", "de")
    assert isinstance(result.exception, StoreError)
    assert "no knowledge base named 'nope'" in str(result.exception)


def test_a_knowledge_base_without_passages_is_an_error(home: Path, tmp_path: Path) -> None:
    rt = Runtime(load_settings(home=home, kb="empty"))
    rt.store(create=True)
    result = run(home, "--kb", "empty", "--out", str(tmp_path / "o"), "--langs", "de")
    assert isinstance(result.exception, StoreError) and "has no passages" in str(result.exception)
    short = tmp_path / "short"
    short.mkdir()
    (short / "a.txt").write_text("Too short.", encoding="utf-8")
    Runtime(load_settings(home=home, kb="short")).ingestor().ingest([short])
    result = run(home, "--kb", "short", "--out", str(tmp_path / "o"), "--langs", "de")
    assert isinstance(result.exception, StoreError) and "long enough" in str(result.exception)


def test_a_missing_generator_is_an_error(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BABELRAG_MODELS__GENERATOR", str(tmp_path / "no-such-model"))
    result = run(home, "--kb", "docs", "--out", str(tmp_path / "o"), "--langs", "de")
    assert isinstance(result.exception, BabelragError), result.exception
    assert "no-such-model" in str(result.exception)


def test_bad_options_are_errors(home: Path, tmp_path: Path) -> None:
    bad_lang = run(home, "--kb", "docs", "--out", str(tmp_path / "o"), "--langs", "klingon")
    assert isinstance(bad_lang.exception, BabelragError) and "Unknown language" in str(bad_lang.exception)
    bad_loss = run(home, "--kb", "docs", "--out", str(tmp_path / "o"), "--langs", "de", "--loss", "mse")
    assert isinstance(bad_loss.exception, BabelragError) and "unknown loss" in str(bad_loss.exception)
