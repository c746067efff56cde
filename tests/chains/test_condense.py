"""Condensing a follow-up into a standalone question, with a scripted model."""

from __future__ import annotations

import pytest

from babelrag.chains.condense import CONDENSE_VARIABLES, CondenseChain, history_window
from babelrag.chains.prompting import load_prompt
from babelrag.stores.langdetect import detect_language
from babelrag.stores.sessions import Turn
from tests.chat_fakes import FakeLLM

pytestmark = pytest.mark.unit

HISTORY = [
    Turn("user", "Which temperature for green tea?", "en"),
    Turn("assistant", "Green tea wants 75 to 80 degrees.", "en"),
]


def _chain(replies: list[str]) -> tuple[CondenseChain, FakeLLM]:
    llm = FakeLLM(responses=replies, seen=[])
    prompt = load_prompt("condense_question", variables=CONDENSE_VARIABLES)
    return CondenseChain(llm=llm, prompt=prompt, detect_language=detect_language), llm


def test_history_is_bounded_by_tokens() -> None:
    turns = [
        Turn("user", "word " * 50, "en"),
        Turn("assistant", "word " * 50, "en"),
        Turn("user", "short", "en"),
    ]
    # costs (words + 4): 54, 54, 5; newest first: 5, then 59 <= 60, then 113 > 60
    kept = history_window(turns, lambda t: len(t.split()), budget=60)
    assert [t.role for t in kept] == ["assistant", "user"] and kept[-1].content == "short"


def test_without_history_the_question_stands_as_it_is() -> None:
    chain, llm = _chain(["should not be used"])
    assert chain.invoke({"question": "How long?", "history": [], "lang": "en"}) == "How long?"
    assert llm.seen == [], "no model call on the first turn"


def test_a_plausible_rewrite_is_used_and_sees_the_history() -> None:
    chain, llm = _chain(["How long should green tea steep?"])
    got = chain.invoke({"question": "And how long should it steep?", "history": HISTORY, "lang": "en"})
    assert got == "How long should green tea steep?"
    assert "Which temperature for green tea?" in "\n".join(str(m.content) for m in llm.seen[0])


def test_an_echo_falls_back_to_the_previous_question_plus_the_follow_up() -> None:
    chain, _ = _chain(["And for how long?"])
    got = chain.invoke({"question": "And for how long?", "history": HISTORY, "lang": "en"})
    assert got == "Which temperature for green tea? And for how long?"


def test_a_rewrite_in_another_language_is_not_used() -> None:
    chain, _ = _chain(["Wie lange muss grüner Tee ziehen?"])
    got = chain.invoke({"question": "And for how long?", "history": HISTORY, "lang": "en"})
    assert got == "Which temperature for green tea? And for how long?"
