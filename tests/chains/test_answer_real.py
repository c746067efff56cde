"""The answer chain with the real packaged models (embedder + generator) on the sample KB."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelrag.stores.langdetect import detect_language
from tests.conftest import SAMPLE_KB

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _rel(source: str) -> str:
    return Path(source).relative_to(SAMPLE_KB.resolve()).as_posix()


def test_chinese_question_gets_a_chinese_answer_citing_the_english_passage(sample_runtime) -> None:
    result = sample_runtime.answer_chain().invoke(
        {"question": "在巴塞尔的莱茵河里游泳时，衣服和手机放在哪里？"}
    )
    assert not result.no_answer, result.to_dict()
    assert result.lang == "zh" and detect_language(result.answer) == "zh"
    # the passage's fact: a fish-shaped waterproof bag (the 0.5B names it, or describes it)
    assert any(term in result.answer.casefold() for term in ("wickelfisch", "waterproof", "防水", "鱼")), (
        result.answer
    )
    cited = {(_rel(s["source"]), s["metadata"].get("line")) for s in result.sources}
    assert ("faq.jsonl", 1) in cited
    assert all(s["lang"] == "en" for s in result.sources)


def test_german_question_gets_a_german_answer_citing_the_english_passage(sample_runtime) -> None:
    result = sample_runtime.answer_chain().invoke(
        {"question": "Wie hoch sind die Türme des Kölner Doms, und wann wurde er fertiggestellt?"}
    )
    assert not result.no_answer, result.to_dict()
    assert detect_language(result.answer) == "de"
    assert "157" in result.answer
    assert "rhine/cologne.html" in {_rel(s["source"]) for s in result.sources}
    for source in result.sources:  # every [n] in the text maps to a listed source
        assert f"[{source['ref']}]" in result.answer


@pytest.mark.xfail(
    reason="known limit of attribute-or-abstain: the 0.5B turns 'use about 3 grams of leaves' into "
    "'a cup contains about 3 grams of caffeine'; number, unit and topic all match the passage, and "
    "nothing checks that the subject changed",
    strict=False,
)
def test_question_without_answer_in_the_kb_says_so(sample_runtime) -> None:
    result = sample_runtime.answer_chain().invoke({"question": "How much caffeine is in a cup of green tea?"})
    assert result.no_answer
    assert result.answer == "The knowledge base does not contain an answer to this question."
    assert result.sources == []


def test_translation_runs_into_other_kb_languages_only(sample_runtime) -> None:
    retriever = sample_runtime.cross_lingual_retriever(translate=True)
    result = retriever.retrieve("Wie hoch sind die Türme des Kölner Doms?")
    assert result.query_lang == "de"
    assert result.translations and "de" not in result.translations
    assert set(result.translations) <= {"en", "zh", "fr"}
    off = sample_runtime.cross_lingual_retriever(translate=False).retrieve(
        "Wie hoch sind die Türme des Kölner Doms?"
    )
    assert off.translations == {}


def test_a_question_the_kb_knows_nothing_about_gets_the_no_answer_message(sample_runtime) -> None:
    result = sample_runtime.answer_chain().invoke({"question": "Wer hat die Fußball-WM 2014 gewonnen?"})
    assert result.no_answer and result.sources == []
    assert result.answer == "Die Wissensdatenbank enthält keine Antwort auf diese Frage."
