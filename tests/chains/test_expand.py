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


def test_reworded_repeats_of_the_draft_are_dropped() -> None:
    from babelrag.chains.expand import _drop_repeats

    draft = "# 绿茶\n\n绿茶是一种很受欢迎的茶。泡绿茶的时候要注意水温。\n"
    addition = "绿茶是一种受欢迎的茶，泡绿茶的时候要注意水温[1]。茶叶在高温下会逐渐被氧化[2]。"
    assert _drop_repeats(addition, draft) == "茶叶在高温下会逐渐被氧化[2]。"
    english = "Green tea is popular. Mind the water temperature."
    assert _drop_repeats("Green tea is very popular[1]. Steep it for two minutes[1].", english) == (
        "Steep it for two minutes[1]."
    )


def test_untranslated_english_words_in_a_chinese_addition_are_dropped() -> None:
    from babelrag.chains.expand import _without_foreign_words
    from babelrag.stores.knowledge_store import SearchHit

    text = "Never use boiling water. Install it with apt or sudo."
    english = SearchHit("a", "a.md", "Tea", "en", 0.5, text)
    chinese = SearchHit("b", "b.md", "茶", "zh", 0.5, "用 sudo 安装。炒茶的铁锅很热。")
    addition = "但 boiling水会让茶变苦[1]。茶叶在高温下会被氧化[2]。用 sudo 安装[2]。可以用 apt 安装[1]。"
    kept = _without_foreign_words(addition, "# 茶\n\n草稿。", [english, chinese])
    # "boiling" only the English passage has; "sudo" a Chinese passage writes too; "apt" is 3 letters
    assert kept == "茶叶在高温下会被氧化[2]。用 sudo 安装[2]。可以用 apt 安装[1]。"
    latin = "Boiling water is bad[1]."
    assert _without_foreign_words(latin, "draft", [english]) == latin  # only CJK additions are checked
