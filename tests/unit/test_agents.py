"""Dialogue (history-aware follow-ups, language per turn), sessions (atomic saves), writer (fakes)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from pydantic import Field

from babelrag.agents.dialogue import Dialogue, history_window
from babelrag.agents.sessions import ChatSession, SessionStore, Turn
from babelrag.agents.writer import WritingAssistant, split_sections
from babelrag.chains.answer import ANSWER_VARIABLES, REWRITE_VARIABLES, AnswerPipeline
from babelrag.chains.generator import Decoding
from babelrag.chains.prompting import load_messages, load_prompt
from babelrag.chains.retrieval import CrossLingualRetriever
from babelrag.stores.errors import StoreError
from babelrag.stores.fakes import KeywordEmbeddings, fake_tokens
from babelrag.stores.langdetect import detect_language
from tests.store_cases import make_ingestor, write_kb

pytestmark = pytest.mark.unit


class FakeLLM(FakeListChatModel):
    """Replies in order and records every prompt it was given."""

    decoding: Decoding = Decoding()
    seen: list[Any] = Field(default_factory=list)

    def count_tokens(self, text: str) -> int:
        return len(fake_tokens(text))

    def prompt_tokens(self, messages) -> int:
        return sum(self.count_tokens(str(m.content)) for m in messages)

    def invoke(self, messages, config=None, **kwargs):  # type: ignore[override]
        self.seen.append(messages)
        kwargs.pop("decoding", None)
        return super().invoke(messages, config, **kwargs)

    def stream(self, messages, config=None, **kwargs):  # type: ignore[override]
        self.seen.append(messages)
        kwargs.pop("decoding", None)
        yield from super().stream(messages, config, **kwargs)


@pytest.fixture
def store(tmp_path: Path):
    ingestor = make_ingestor(tmp_path, KeywordEmbeddings(dimension=128))
    ingestor.ingest([write_kb(tmp_path)])
    return ingestor.store


def _dialogue(store, replies: list[str]) -> tuple[Dialogue, FakeLLM]:
    llm = FakeLLM(responses=replies, seen=[])
    retriever = CrossLingualRetriever(
        store=store, detect_language=detect_language, use_translation=False, k=2
    )
    pipeline = AnswerPipeline(
        retriever=retriever,
        llm=llm,
        answer_prompt=load_prompt("answer", variables=ANSWER_VARIABLES),
        rewrite_prompt=load_prompt("rewrite_in_language", variables=REWRITE_VARIABLES),
        messages=load_messages(),
        detect_language=detect_language,
        min_support=0.0,
    )
    condense = load_prompt("condense_question", variables=("history", "question", "language"))
    return Dialogue(
        pipeline=pipeline, llm=llm, condense_prompt=condense, detect_language=detect_language
    ), llm


def test_first_turn_is_not_rewritten_and_follow_up_uses_history(store) -> None:
    dialogue, llm = _dialogue(
        store,
        [
            "Brew green tea with water at 75 to 80 degrees Celsius.",
            "How long should green tea steep at 75 to 80 degrees?",  # the condensed follow-up
            "Steep the leaves for about two minutes.",
        ],
    )
    session = ChatSession(id="t1", kb="test")
    dialogue.ask(session, "What water temperature is right for green tea?")
    assert session.turns[0].standalone is None
    dialogue.ask(session, "And how long should it steep?")
    condense_prompt = "\n".join(str(m.content) for m in llm.seen[1])
    assert "What water temperature is right for green tea?" in condense_prompt, (
        "history goes into the rewrite"
    )
    assert session.turns[2].standalone == "How long should green tea steep at 75 to 80 degrees?"
    answer_prompt = "\n".join(str(m.content) for m in llm.seen[2])
    assert "How long should green tea steep" in answer_prompt, (
        "retrieval and answer use the standalone question"
    )


def test_an_echoed_rewrite_falls_back_to_both_questions(store) -> None:
    dialogue, _ = _dialogue(store, ["Green tea wants 75 to 80 degrees.", "And for how long?", "Two minutes."])
    session = ChatSession(id="t2", kb="test")
    dialogue.ask(session, "Which temperature for green tea?")
    dialogue.ask(session, "And for how long?")
    assert session.turns[2].standalone == "Which temperature for green tea? And for how long?"


def test_each_turn_is_answered_in_its_own_language(store) -> None:
    dialogue, _ = _dialogue(
        store, ["Green tea: 75 to 80 degrees.", "Grüner Tee: 75 bis 80 Grad?", "Zwei Minuten."]
    )
    session = ChatSession(id="t3", kb="test")
    first = dialogue.ask(session, "Which water temperature for green tea?")
    second = dialogue.ask(session, "Und wie lange muss der Tee ziehen?")
    assert (first.lang, second.lang) == ("en", "de")
    assert [t.lang for t in session.turns] == ["en", "en", "de", "de"]
    session.lang = "fr"
    assert dialogue.turn_language(session, "How long?") == "fr", "/lang forces the answer language"


def test_history_is_bounded_by_tokens() -> None:
    turns = [
        Turn("user", "word " * 50, "en"),
        Turn("assistant", "word " * 50, "en"),
        Turn("user", "short", "en"),
    ]
    # costs (words + 4): 54, 54, 5; newest first: 5, then 59 <= 60, then 113 > 60
    kept = history_window(turns, lambda t: len(t.split()), budget=60)
    assert [t.role for t in kept] == ["assistant", "user"] and kept[-1].content == "short"


def test_sessions_save_resume_and_survive_a_crash_mid_write(tmp_path: Path, monkeypatch) -> None:
    sessions = SessionStore(tmp_path / "sessions")
    session = sessions.new("kb1")
    session.turns.append(Turn("user", "Hallo {name}", "de"))
    sessions.save(session)
    assert sessions.load(session.id).turns[0].content == "Hallo {name}"

    session.turns.append(Turn("assistant", "second version", "de"))

    def crash(fd: int) -> None:
        raise OSError("disk pulled out")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError):
        sessions.save(session)
    monkeypatch.undo()
    reloaded = sessions.load(session.id)
    assert len(reloaded.turns) == 1, "the previous version is intact"
    assert not list((tmp_path / "sessions").glob("*.tmp")), "no temporary file is left behind"
    assert [s.id for s in sessions.list()] == [session.id]


def test_damaged_or_unknown_sessions_are_clear_errors(tmp_path: Path) -> None:
    sessions = SessionStore(tmp_path)
    with pytest.raises(StoreError, match="no saved session"):
        sessions.load("nope")
    with pytest.raises(StoreError, match="invalid session id"):
        sessions.load("../etc/passwd")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(StoreError, match="damaged"):
        sessions.load("bad")
    assert json.loads(ChatSession(id="x", kb="k").to_json())["id"] == "x"


def test_split_sections_by_headings_or_paragraphs() -> None:
    assert [s.number for s in split_sections("one\n\ntwo\n\nthree")] == [1, 2, 3]
    with_headings = split_sections("# A\n\npara a\n\n# B\n\npara b1\n\npara b2")
    assert [s.text for s in with_headings] == ["# A\n\npara a", "# B\n\npara b1\n\npara b2"]


def _writer(store, replies: list[str]) -> WritingAssistant:
    retriever = CrossLingualRetriever(
        store=store, detect_language=detect_language, use_translation=False, k=2
    )
    return WritingAssistant(
        retriever=retriever,
        llm=FakeLLM(responses=replies, seen=[]),
        prompt=load_prompt("expand_draft", variables=("passages", "paragraph", "language", "sentences")),
        detect_language=detect_language,
        messages=load_messages(),
        min_support=0.0,
    )


def test_writer_keeps_the_authors_text_and_cites_additions(store) -> None:
    draft = "# Green tea\n\nI drink green tea every morning. It was often bitter.\n"
    writer = _writer(store, ["Green tea tastes best with water at 75 to 80 degrees Celsius."])
    result = writer.expand(draft, factor=2.0)
    text = result.render()
    assert text.startswith(draft.strip()), "the author's sentences are kept verbatim, first"
    assert "75 to 80 degrees Celsius[1]" in text and "## Sources" in text and "tea.md" in text
    assert not result.unchanged and result.lang == "en"


def test_writer_returns_an_unrelated_draft_unchanged_with_a_note(store) -> None:
    draft = "Mein Lieblingsfilm läuft heute Abend im Kino."
    writer = _writer(store, ["Der Film dauert 142 Minuten."])  # an invented number: dropped
    result = writer.expand(draft, factor=2.0)
    assert result.unchanged and result.render() == draft
    assert result.note == "Nichts in der Wissensdatenbank passt zu diesem Entwurf; er bleibt unverändert."


def test_writer_rejected_additions_are_left_out(store) -> None:
    writer = _writer(store, ["Green tea tastes best with water at 75 to 80 degrees Celsius."])
    result = writer.expand("I like green tea. It is often bitter.", factor=2.0)
    result.additions[0].accepted = False
    assert result.render() == "I like green tea. It is often bitter."


def test_another_pass_adds_to_the_kept_result_with_unused_passages(store) -> None:
    writer = _writer(
        store,
        [
            "Green tea tastes best with water at 75 to 80 degrees Celsius.",
            "Boiling water makes green tea bitter because it extracts too many tannins.",
        ],
    )
    result = writer.expand("I like green tea. It is often bitter.", factor=2.0)
    first_hits = {h.id for h in result.additions[0].hits}
    result = writer.another_pass(result, factor=2.0)
    assert [a.id for a in result.additions] == [1, 2]
    assert not first_hits & {h.id for h in result.additions[1].hits}, "a new pass uses passages not used yet"
    text = result.render()
    assert text.startswith("I like green tea. It is often bitter.")
    assert "[1]" in text and "[2]" in text


def test_interactive_write_session_rejects_runs_another_pass_and_saves(store, tmp_path, monkeypatch) -> None:
    from babelrag.agents.cli.write import _session

    writer = _writer(
        store,
        [
            "Green tea tastes best with water at 75 to 80 degrees Celsius.",
            "Boiling water makes green tea bitter because it extracts too many tannins.",
        ],
    )
    result = writer.expand("I like green tea. It is often bitter.", factor=2.0)
    saved = tmp_path / "out.md"
    commands = iter(["r 1", "p", "bogus", "s", f"s {saved}", "q"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(commands))
    result = _session(writer, result, None, factor=2.0, sections=None)
    assert [a.accepted for a in result.additions] == [False, True], "(1) rejected, the new pass kept"
    text = saved.read_text(encoding="utf-8")
    assert text.startswith("I like green tea. It is often bitter.")
    assert "75 to 80 degrees" not in text and "tannins[1]" in text
