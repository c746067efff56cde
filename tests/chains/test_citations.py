"""Citation markers, "no answer" replies and answers cut off at the token limit."""

from __future__ import annotations

import pytest

from babelrag.chains.citations import drop_cut_off, is_no_answer, parse_citations, strip_citations

pytestmark = pytest.mark.unit


class TestParseCitations:
    def test_groups_and_full_width_brackets_are_normalised(self) -> None:
        text, cited, invalid = parse_citations("Tea [1, 3] and chains 【2】 and more [3，1].", 3)
        assert text == "Tea [1][3] and chains [2] and more [3][1]."
        assert cited == [1, 3, 2] and invalid == []

    def test_invalid_numbers_are_removed_with_their_space(self) -> None:
        text, cited, invalid = parse_citations("Tea is green [4]. Chains [0, 2] rust [7].", 2)
        assert text == "Tea is green. Chains [2] rust."
        assert cited == [2] and invalid == [4, 0, 7]

    def test_no_passages_means_no_valid_citation(self) -> None:
        assert parse_citations("Tea [1].", 0) == ("Tea.", [], [1])

    def test_brackets_that_are_not_citations_stay(self) -> None:
        text, cited, _ = parse_citations("Use arr[i] and [x] here.", 3)
        assert text == "Use arr[i] and [x] here." and cited == []

    def test_strip_citations(self) -> None:
        assert strip_citations("Tea [1][2] and 【3】.") == "Tea  and ."


class TestIsNoAnswer:
    @pytest.mark.parametrize(
        "answer",
        ["NO_ANSWER", "no answer.", "  NO_ANSWER [1]", "NO_ANSWER: the passages are about bikes, not tea."],
    )
    def test_no_answer(self, answer: str) -> None:
        assert is_no_answer(answer)

    @pytest.mark.parametrize(
        "answer",
        [
            "Green tea tastes best with water at 80 degrees.",
            "No answers were stored before 2019, but green tea tastes best at 80 degrees.",
            "Green tea tastes best with water at 80 degrees; brew it for two minutes. NO_ANSWER",
        ],
    )
    def test_an_answer(self, answer: str) -> None:
        assert not is_no_answer(answer)


class TestDropCutOff:
    def test_an_unfinished_last_sentence_goes_when_the_token_limit_was_hit(self) -> None:
        text = "Green tea wants 80 degrees [1]. Steep it for two min"
        assert drop_cut_off(text, hit_limit=True) == "Green tea wants 80 degrees [1]."
        assert drop_cut_off("绿茶用80度的水。浸泡两分", hit_limit=True) == "绿茶用80度的水。"

    def test_finished_text_and_replies_that_ended_by_themselves_stay(self) -> None:
        assert (
            drop_cut_off("Green tea wants 80 degrees [1].", hit_limit=True)
            == "Green tea wants 80 degrees [1]."
        )
        assert drop_cut_off("- a list item without a stop", hit_limit=False) == "- a list item without a stop"

    def test_a_single_cut_off_sentence_leaves_nothing(self) -> None:
        assert drop_cut_off("Steep the leaves for", hit_limit=True) == ""
