"""The writing assistant over a real store with the keyword embedder and a scripted model."""

from __future__ import annotations

import pytest

from babelrag.agents.writer import WritingAssistant, split_sections
from babelrag.chains.expand import EXPAND_VARIABLES, ExpandChain
from babelrag.chains.prompting import load_messages, load_prompt
from babelrag.chains.retrieval import CrossLingualRetriever
from babelrag.stores.langdetect import detect_language
from tests.chat_fakes import FakeLLM, grounder_for

pytestmark = pytest.mark.unit


def make_writer(store, replies: list[str]) -> WritingAssistant:
    retriever = CrossLingualRetriever(
        store=store, detect_language=detect_language, use_translation=False, k=2
    )
    chain = ExpandChain(
        retriever=retriever,
        llm=FakeLLM(responses=replies, seen=[]),
        grounder=grounder_for(store),
        prompt=load_prompt("expand_draft", variables=EXPAND_VARIABLES),
        detect_language=detect_language,
    )
    return WritingAssistant(expand_chain=chain, detect_language=detect_language, messages=load_messages())


def test_split_sections_by_headings_or_paragraphs() -> None:
    assert [s.number for s in split_sections("one\n\ntwo\n\nthree")] == [1, 2, 3]
    with_headings = split_sections("# A\n\npara a\n\n# B\n\npara b1\n\npara b2")
    assert [s.text for s in with_headings] == ["# A\n\npara a", "# B\n\npara b1\n\npara b2"]


def test_writer_keeps_the_authors_text_and_cites_additions(keyword_store) -> None:
    draft = "# Green tea\n\nI drink green tea every morning. It was often bitter.\n"
    writer = make_writer(keyword_store, ["Green tea tastes best with water at 75 to 80 degrees Celsius."])
    result = writer.expand(draft, factor=2.0)
    text = result.render()
    assert text.startswith(draft.strip()), "the author's sentences are kept verbatim, first"
    assert "75 to 80 degrees Celsius[1]" in text and "## Sources" in text and "tea.md" in text
    assert not result.unchanged and result.lang == "en"
    assert set(result.timings) == {"retrieve_s", "generate_s", "ground_s"}


def test_writer_returns_an_unrelated_draft_unchanged_with_a_note(keyword_store) -> None:
    draft = "Mein Lieblingsfilm läuft heute Abend im Kino."
    writer = make_writer(keyword_store, ["Der Film dauert 142 Minuten."])  # an invented number: dropped
    result = writer.expand(draft, factor=2.0)
    assert result.unchanged and result.render() == draft
    assert result.note == "Nichts in der Wissensdatenbank passt zu diesem Entwurf; er bleibt unverändert."


def test_writer_rejected_additions_are_left_out(keyword_store) -> None:
    writer = make_writer(keyword_store, ["Green tea tastes best with water at 75 to 80 degrees Celsius."])
    result = writer.expand("I like green tea. It is often bitter.", factor=2.0)
    result.additions[0].accepted = False
    assert result.render() == "I like green tea. It is often bitter."


def test_another_pass_adds_to_the_kept_result_with_unused_passages(keyword_store) -> None:
    writer = make_writer(
        keyword_store,
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
