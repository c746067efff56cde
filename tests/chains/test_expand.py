"""The draft-expansion chain for one section, with a scripted model."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler

from babelrag.chains.expand import EXPAND_VARIABLES, ExpandChain
from babelrag.chains.prompting import load_prompt
from babelrag.chains.retrieval import CrossLingualRetriever
from babelrag.stores.langdetect import detect_language
from tests.chat_fakes import FakeLLM, grounder_for

pytestmark = pytest.mark.unit

SECTION = "I like green tea. It is often bitter."


def make_chain(store, replies: list[str]) -> tuple[ExpandChain, FakeLLM]:
    llm = FakeLLM(responses=replies, seen=[])
    retriever = CrossLingualRetriever(
        store=store, detect_language=detect_language, use_translation=False, k=2
    )
    chain = ExpandChain(
        retriever=retriever,
        llm=llm,
        grounder=grounder_for(store),
        prompt=load_prompt("expand_draft", variables=EXPAND_VARIABLES),
        detect_language=detect_language,
    )
    return chain, llm


class Names(BaseCallbackHandler):
    def __init__(self) -> None:
        self.names: list[str | None] = []

    def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
        self.names.append(kwargs.get("name"))


def test_supported_sentences_come_back_cited_and_steps_are_traced(keyword_store) -> None:
    chain, llm = make_chain(keyword_store, ["Green tea tastes best with water at 75 to 80 degrees Celsius."])
    names = Names()
    got = chain.invoke({"section": SECTION, "lang": "en", "budget": 10}, {"callbacks": [names]})
    assert got is not None and got.text.endswith("Celsius[1].") and got.hits
    assert SECTION in "\n".join(str(m.content) for m in llm.seen[0]), "the author's text is in the prompt"
    assert names.names == ["expand_section", "cross_lingual_retrieve", "ground"]


def test_repeats_of_the_author_and_other_languages_are_dropped(keyword_store) -> None:
    chain, _ = make_chain(
        keyword_store, ["I like green tea. Grüner Tee schmeckt mit Wasser bei 75 bis 80 Grad am besten."]
    )
    assert chain.invoke({"section": SECTION, "lang": "en", "budget": 10}) is None


def test_excluded_passages_are_not_offered_again(keyword_store) -> None:
    chain, _ = make_chain(
        keyword_store, ["Green tea tastes best with water at 75 to 80 degrees Celsius."] * 2
    )
    first = chain.invoke({"section": SECTION, "lang": "en", "budget": 10})
    assert first is not None
    again = chain.invoke(
        {"section": SECTION, "lang": "en", "budget": 10, "exclude": {h.id for h in first.hits}}
    )
    assert again is None or not {h.id for h in first.hits} & {h.id for h in again.hits}
