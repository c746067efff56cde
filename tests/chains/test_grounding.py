"""Attribute-or-abstain: each answer sentence is cited to a passage that supports it, or dropped."""

from __future__ import annotations

import pytest

from babelrag.chains.grounding import Grounded, ground_answer
from babelrag.stores.fakes import KeywordEmbeddings

pytestmark = pytest.mark.unit


TEA = "Brewing green tea\nGreen tea tastes best with water at 80 degrees. Steep the leaves for two minutes."


BIKE = "Bicycle chains\nA bicycle chain should be cleaned and oiled every 300 kilometres."


TITLES = ["Brewing green tea", "Bicycle chains"]


class FakeSentenceEmbedder:
    """The keyword embedder, recording what it was asked to embed."""

    def __init__(self, embeddings: KeywordEmbeddings) -> None:
        self.embeddings = embeddings
        self.seen: list[str] = []

    def __call__(self, sentences: list[str]) -> list[list[float]]:
        self.seen.extend(sentences)
        return self.embeddings.embed_documents(sentences)


@pytest.fixture
def embeddings() -> KeywordEmbeddings:
    return KeywordEmbeddings(dimension=512)


def ground(
    answer: str, embeddings: KeywordEmbeddings, passages=(TEA, BIKE), titles=TITLES, **kwargs
) -> Grounded:
    return ground_answer(
        answer,
        list(passages),
        titles=titles,
        embed_sentences=FakeSentenceEmbedder(embeddings),
        passage_vectors=embeddings.embed_documents(list(passages)),
        min_similarity=kwargs.pop("min_similarity", 0.5),
        **kwargs,
    )


class TestGroundAnswer:
    def test_supported_sentence_is_cited_to_its_most_similar_passage(self, embeddings) -> None:
        result = ground("A bicycle chain should be oiled every 300 kilometres.", embeddings)
        assert result == Grounded("A bicycle chain should be oiled every 300 kilometres[2].", [2], [])

    def test_sentence_with_a_number_its_passage_lacks_is_dropped(self, embeddings) -> None:
        answer = (
            "Green tea tastes best with water at 80 degrees. "
            "A bicycle chain should be oiled every 500 kilometres."
        )
        result = ground(answer, embeddings)
        assert result.text == "Green tea tastes best with water at 80 degrees[1]."
        assert result.cited == [1]
        assert result.dropped == ["A bicycle chain should be oiled every 500 kilometres."]

    def test_numbers_are_compared_without_separators(self, embeddings) -> None:
        passage = "Fees\nThe yearly fee is 1,230 euros for members."
        result = ground(
            "The yearly fee is 1.230 euros for members.", embeddings, passages=[passage], titles=[]
        )
        assert result.cited == [1]

    def test_unrelated_sentence_is_dropped(self, embeddings) -> None:
        result = ground("Green tea tastes best at 80 degrees. The moon is made of cheese.", embeddings)
        assert result.text == "Green tea tastes best at 80 degrees[1]."
        assert result.dropped == ["The moon is made of cheese."]

    def test_valid_model_citation_is_kept_even_when_similarity_is_low(self, embeddings) -> None:
        result = ground("Chains need oil [2].", embeddings)
        assert result.text == "Chains need oil[2]."
        assert result.cited == [2]

    def test_model_citation_must_still_hold_the_numbers(self, embeddings) -> None:
        result = ground("Green tea needs water at 95 degrees [1].", embeddings)
        assert result.text == "" and result.dropped == ["Green tea needs water at 95 degrees."]

    def test_invalid_model_citation_is_replaced_by_attribution(self, embeddings) -> None:
        result = ground("Steep the leaves for two minutes [9].", embeddings)
        assert "[9]" not in result.text
        assert result.text == "Steep the leaves for two minutes[1]."
        assert result.cited == [1]

    def test_invalid_citation_on_an_unsupported_sentence(self, embeddings) -> None:
        result = ground("Paris is the capital of France [9].", embeddings)
        assert result.text == "" and result.cited == []

    def test_markers_are_not_embedded(self, embeddings) -> None:
        embed = FakeSentenceEmbedder(embeddings)
        ground_answer(
            "Steep the leaves for two minutes [1]. Green tea tastes best at 80 degrees [9].",
            [TEA, BIKE],
            embed_sentences=embed,
            passage_vectors=embeddings.embed_documents([TEA, BIKE]),
        )
        assert embed.seen == ["Steep the leaves for two minutes.", "Green tea tastes best at 80 degrees."]

    def test_echoed_question_is_dropped(self, embeddings) -> None:
        for question in ("How hot should the water for green tea be?", "绿茶的水温应该是多少？"):
            result = ground(f"{question} Green tea tastes best with water at 80 degrees.", embeddings)
            assert result.text == "Green tea tastes best with water at 80 degrees[1]."

    def test_copied_title_and_heading_lines_are_dropped(self, embeddings) -> None:
        answer = "Brewing green tea\nGreen tea tastes best with water at 80 degrees."
        assert ground(answer, embeddings).text == "Green tea tastes best with water at 80 degrees[1]."
        # without titles, a short passage line without closing punctuation counts as a heading
        assert (
            ground(answer, embeddings, titles=[]).text == "Green tea tastes best with water at 80 degrees[1]."
        )

    def test_prompt_scaffolding_is_stripped(self, embeddings) -> None:
        answer = "[1] (Brewing green tea): Green tea tastes best with water at 80 degrees."
        assert ground(answer, embeddings).text == "Green tea tastes best with water at 80 degrees[1]."

    def test_a_line_starting_with_a_time_is_not_scaffolding(self, embeddings) -> None:
        passage = "Night trains\nThe train leaves at 10:30 from platform 4 every night."
        result = ground(
            "10:30 is when the train leaves from platform 4.", embeddings, passages=[passage], titles=[]
        )
        assert result.text == "10:30 is when the train leaves from platform 4[1]."

    def test_repeated_sentences_count_once(self, embeddings) -> None:
        answer = "Steep the leaves for two minutes. Steep the leaves for two minutes [1]."
        assert ground(answer, embeddings).text == "Steep the leaves for two minutes[1]."

    def test_all_sentences_unsupported_gives_an_empty_answer(self, embeddings) -> None:
        result = ground("The moon is made of cheese. Cats can fly.", embeddings)
        assert result.text == "" and result.cited == []
        assert result.dropped == ["The moon is made of cheese.", "Cats can fly."]

    def test_nothing_but_questions_and_headings(self, embeddings) -> None:
        assert ground("Brewing green tea\nWhat is tea?", embeddings) == Grounded("", [])

    def test_cjk_sentences_are_joined_without_spaces(self, embeddings) -> None:
        passage = "绿茶\n绿茶最好用80度的水冲泡。浸泡两分钟后倒掉水。"
        result = ground(
            "绿茶最好用80度的水冲泡。浸泡两分钟后倒掉水。", embeddings, passages=[passage], titles=[]
        )
        assert result.text == "绿茶最好用80度的水冲泡[1]。浸泡两分钟后倒掉水[1]。"

    def test_citations_are_listed_in_order_of_first_use(self, embeddings) -> None:
        answer = "A bicycle chain should be oiled every 300 kilometres. Green tea tastes best at 80 degrees."
        result = ground(answer, embeddings)
        assert result.cited == [2, 1]


GIT = (
    "Undoing a Git commit\nRun git reset --soft HEAD~1 to undo the last commit and keep its changes "
    "staged. Use `git restore --staged <file>` to unstage a file."
)


def test_a_command_option_not_in_the_passage_is_dropped_with_its_lead_in(embeddings) -> None:
    answer = (
        "Sie können den folgenden Befehl verwenden: [1]\n"
        "git reset --hard HEAD~1 [1]\n"
        "Danach sind die Änderungen noch vorgemerkt [1]."
    )
    grounded = ground(answer, embeddings, passages=(GIT,), titles=["Undoing a Git commit"])
    assert "--hard" not in grounded.text, "an option the passage never names is dropped"
    assert "verwenden:" not in grounded.text, "a lead-in whose command was dropped goes too"
    assert "git reset --hard HEAD~1" in grounded.dropped


def test_commands_copied_from_the_passage_are_kept(embeddings) -> None:
    answer = (
        "Führen Sie git reset --soft HEAD~1 aus [1]. Mit `git restore --staged <Datei>` geht es auch [1]."
    )
    grounded = ground(answer, embeddings, passages=(GIT,), titles=["Undoing a Git commit"])
    assert "git reset --soft HEAD~1 aus[1]" in grounded.text
    assert "`git restore --staged <Datei>` geht es auch[1]" in grounded.text, (
        "a translated placeholder is fine"
    )
    assert not grounded.dropped


def test_a_code_span_word_not_in_the_passage_is_dropped(embeddings) -> None:
    grounded = ground("Use `git revert HEAD` instead [1].", embeddings, passages=(GIT,), titles=["x"])
    assert grounded.text == "" and grounded.dropped == ["Use `git revert HEAD` instead."]


def test_hyphenated_words_are_not_options(embeddings) -> None:
    grounded = ground("Green tea is a well-known drink at 80 degrees [1].", embeddings)
    assert "well-known" in grounded.text


def test_a_number_with_a_unit_needs_that_unit_in_a_latin_script_passage() -> None:
    from babelrag.chains.grounding import _numbers_supported

    assert not _numbers_supported("A cup holds about 3 grams of caffeine.", ["Steep for 2 to 3 minutes."])
    assert not _numbers_supported("It takes 3 minutes.", ["Step 3: boil the water."])
    assert _numbers_supported("Use 3 grams of leaves.", ["Use 3 g of leaves."])  # g = grams
    assert _numbers_supported("Die Türme sind 157 Meter hoch.", ["The towers are 157 m high."])
    assert _numbers_supported("Ziehen lassen: 2 Minuten.", ["Steep for 2 minutes."])
    assert _numbers_supported("Plattform 4 um 10:30.", ["The train leaves at 10:30 from platform 4."])
    assert _numbers_supported("茶叶用 3 克。", ["茶叶用3克。"])  # CJK passages: the number only
