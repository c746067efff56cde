"""Decoding settings and stop-string handling of the local generator, without a model."""

from __future__ import annotations

import pytest

from babelrag.chains.generator import Decoding, TransformersChatModel, _StopGuard, _trim_stop
from babelrag.stores.errors import GenerationError

pytestmark = pytest.mark.unit


class TestDecodingValidation:
    @pytest.mark.parametrize(
        ("settings", "problem"),
        [
            ({"strategy": "beam", "num_beams": 1}, "num_beams >= 2"),
            ({"strategy": "sample", "temperature": 0.0}, "temperature > 0"),
            ({"strategy": "sample", "temperature": -0.5}, "temperature > 0"),
            ({"top_p": 0.0}, "top_p"),
            ({"top_p": 1.01}, "top_p"),
            ({"max_new_tokens": 0}, "max_new_tokens"),
            ({"top_k": -1}, "top_k"),
            ({"repetition_penalty": 0.0}, "repetition_penalty"),
        ],
    )
    def test_impossible_settings_are_a_generation_error(self, settings: dict, problem: str) -> None:
        with pytest.raises(GenerationError, match=problem):
            Decoding(**settings)

    def test_all_problems_are_reported_at_once(self) -> None:
        with pytest.raises(GenerationError) as info:
            Decoding(strategy="beam", num_beams=1, max_new_tokens=0)
        assert "num_beams" in str(info.value) and "max_new_tokens" in str(info.value)

    def test_settings_of_other_strategies_are_not_checked(self) -> None:
        # a zero temperature or a single beam is harmless when that strategy is not used
        assert Decoding(strategy="greedy", temperature=0.0, num_beams=1).strategy == "greedy"
        assert Decoding(strategy="beam", temperature=0.0).num_beams == 4
        assert Decoding(top_p=1.0).top_p == 1.0


class TestGenerateKwargs:
    def test_greedy(self) -> None:
        kwargs = Decoding(strategy="greedy", max_new_tokens=64, temperature=0.3).generate_kwargs()
        assert kwargs == {
            "max_new_tokens": 64,
            "repetition_penalty": 1.05,
            "do_sample": False,
            "temperature": None,
            "top_k": None,
            "top_p": None,
        }

    def test_beam(self) -> None:
        kwargs = Decoding(strategy="beam", num_beams=3).generate_kwargs()
        assert kwargs["do_sample"] is False
        assert kwargs["num_beams"] == 3 and kwargs["early_stopping"] is True
        assert kwargs["temperature"] is None

    def test_sample(self) -> None:
        kwargs = Decoding(strategy="sample", temperature=0.8, top_k=20, top_p=0.95).generate_kwargs()
        assert kwargs["do_sample"] is True
        assert (kwargs["temperature"], kwargs["top_k"], kwargs["top_p"]) == (0.8, 20, 0.95)
        assert "num_beams" not in kwargs

    def test_stop_strings_are_not_generate_kwargs(self) -> None:
        # they need the tokenizer, so LocalChatModel adds them itself
        assert "stop_strings" not in Decoding(stop=("\n\n",)).generate_kwargs()


class TestWithOverrides:
    def test_none_means_keep(self) -> None:
        base = Decoding(strategy="sample", temperature=0.7, max_new_tokens=100)
        changed = base.with_overrides(temperature=None, max_new_tokens=50, top_k=None)
        assert changed.max_new_tokens == 50
        assert changed.temperature == 0.7 and changed.top_k == base.top_k
        assert base.max_new_tokens == 100, "the original is not changed"

    def test_overrides_are_validated(self) -> None:
        with pytest.raises(GenerationError, match="num_beams"):
            Decoding().with_overrides(strategy="beam", num_beams=1)


class TestModelDecodingArguments:
    """How LocalChatModel merges its default, a per-call Decoding, LangChain's stop and overrides."""

    def model(self) -> TransformersChatModel:
        return TransformersChatModel(
            model=None, tokenizer=None, decoding=Decoding(max_new_tokens=200, stop=("A",))
        )

    def test_default_decoding(self) -> None:
        assert self.model()._decoding(None, {}) == Decoding(max_new_tokens=200, stop=("A",))

    def test_per_call_decoding_replaces_the_default_and_stop_is_appended(self) -> None:
        call = Decoding(strategy="beam", max_new_tokens=10, stop=("B",))
        decoding = self.model()._decoding(["C"], {"decoding": call, "num_beams": 2, "unrelated": 1})
        assert decoding == Decoding(strategy="beam", max_new_tokens=10, num_beams=2, stop=("B", "C"))


class TestStopGuard:
    def feed_all(self, pieces: list[str], stops: tuple[str, ...]) -> tuple[list[str], str]:
        guard = _StopGuard(stops)
        outputs = [guard.feed(p) for p in pieces]
        return outputs, guard.flush()

    def test_stop_split_across_pieces(self) -> None:
        outputs, tail = self.feed_all(["Hel", "lo ST", "OP more"], ("STOP",))
        assert "".join(outputs) + tail == "Hello "
        assert outputs == ["", "Hello", " "], "a possible start of the stop string is held back"
        assert tail == ""

    def test_nothing_after_the_stop_is_released(self) -> None:
        guard = _StopGuard(["STOP"])
        assert guard.feed("a STOP b") == "a "
        assert guard.feed("more text") == ""
        assert guard.flush() == ""

    def test_a_partial_stop_that_never_completes_comes_out_at_the_end(self) -> None:
        outputs, tail = self.feed_all(["one ", "two ST"], ("STOP",))
        assert "".join(outputs) == "one two", "only len('STOP') - 1 characters are held back"
        assert tail == " ST"

    def test_first_of_several_stops_wins(self) -> None:
        outputs, tail = self.feed_all(["x <e", "nd> y\n\n z"], ("\n\n", "<end>"))
        assert "".join(outputs) + tail == "x "

    def test_stop_one_character_at_a_time(self) -> None:
        outputs, tail = self.feed_all(list("abSTOPcd"), ("STOP",))
        assert "".join(outputs) + tail == "ab"

    def test_without_stops_pieces_pass_straight_through(self) -> None:
        outputs, tail = self.feed_all(["a", "bc", ""], ())
        assert outputs == ["a", "bc", ""] and tail == ""

    def test_empty_stop_strings_are_ignored(self) -> None:
        outputs, tail = self.feed_all(["ab", "c"], ("",))
        assert outputs == ["ab", "c"] and tail == ""


class TestTrimStop:
    @pytest.mark.parametrize(
        ("text", "stops", "expected"),
        [
            ("answer\n\nQuestion: next", ("\n\n",), "answer"),
            ("no stop here", ("STOP",), "no stop here"),
            ("a END b STOP c", ("STOP", "END"), "a "),
            ("STOP at once", ("STOP",), ""),
            ("anything", (), "anything"),
        ],
    )
    def test_cuts_at_the_first_stop(self, text: str, stops: tuple[str, ...], expected: str) -> None:
        assert _trim_stop(text, stops) == expected
