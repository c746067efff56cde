"""Multi-turn dialogue over a real store with the keyword embedder and a scripted model."""

from __future__ import annotations

import pytest

from babelrag.agents.dialogue import Dialogue
from babelrag.chains.answer import ANSWER_VARIABLES, REWRITE_VARIABLES, AnswerChain
from babelrag.chains.condense import CONDENSE_VARIABLES, CondenseChain
from babelrag.chains.prompting import load_messages, load_prompt
from babelrag.chains.retrieval import CrossLingualRetriever
from babelrag.stores.langdetect import detect_language
from babelrag.stores.sessions import ChatSession
from tests.chat_fakes import FakeLLM, grounder_for

pytestmark = pytest.mark.unit


def _dialogue(store, replies: list[str]) -> tuple[Dialogue, FakeLLM]:
    llm = FakeLLM(responses=replies, seen=[])
    retriever = CrossLingualRetriever(
        store=store, detect_language=detect_language, use_translation=False, k=2
    )
    answer = AnswerChain(
        retriever=retriever,
        llm=llm,
        grounder=grounder_for(store),
        answer_prompt=load_prompt("answer", variables=ANSWER_VARIABLES),
        rewrite_prompt=load_prompt("rewrite_in_language", variables=REWRITE_VARIABLES),
        messages=load_messages(),
        detect_language=detect_language,
    )
    condense = CondenseChain(
        llm=llm,
        prompt=load_prompt("condense_question", variables=CONDENSE_VARIABLES),
        detect_language=detect_language,
    )
    return Dialogue(answer_chain=answer, condense_chain=condense, detect_language=detect_language), llm


def test_first_turn_is_not_rewritten_and_follow_up_uses_history(keyword_store) -> None:
    dialogue, llm = _dialogue(
        keyword_store,
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


def test_an_echoed_rewrite_falls_back_to_both_questions(keyword_store) -> None:
    dialogue, _ = _dialogue(
        keyword_store, ["Green tea wants 75 to 80 degrees.", "And for how long?", "Two minutes."]
    )
    session = ChatSession(id="t2", kb="test")
    dialogue.ask(session, "Which temperature for green tea?")
    dialogue.ask(session, "And for how long?")
    assert session.turns[2].standalone == "Which temperature for green tea? And for how long?"


def test_each_turn_is_answered_in_its_own_language(keyword_store) -> None:
    dialogue, _ = _dialogue(
        keyword_store, ["Green tea: 75 to 80 degrees.", "Grüner Tee: 75 bis 80 Grad?", "Zwei Minuten."]
    )
    session = ChatSession(id="t3", kb="test")
    first = dialogue.ask(session, "Which water temperature for green tea?")
    second = dialogue.ask(session, "Und wie lange muss der Tee ziehen?")
    assert (first.lang, second.lang) == ("en", "de")
    assert [t.lang for t in session.turns] == ["en", "en", "de", "de"]
    session.lang = "fr"
    assert dialogue.turn_language(session, "How long?") == "fr", "/lang forces the answer language"
