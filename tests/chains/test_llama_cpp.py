"""The llama.cpp engine's logic with a scripted stand-in for ``llama_cpp.Llama``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from babelrag.chains import llama_cpp as engine
from babelrag.chains.generator import Decoding
from babelrag.chains.llama_cpp import LlamaCppChatModel
from babelrag.stores.errors import GenerationError

pytestmark = pytest.mark.unit

END = 0
TEMPLATE = "{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}<assistant>"


class ScriptedLlama:
    """Tokens are UTF-8 bytes (so a character may span tokens); ``reply`` is what it generates."""

    def __init__(self, reply: str) -> None:
        self.reply = [*reply.encode("utf-8"), END]
        self.metadata = {"tokenizer.chat_template": TEMPLATE, "tokenizer.ggml.eos_token_id": str(END)}
        self.input_ids: list[int] = []
        self.n_tokens = 0
        self.calls: list[dict[str, Any]] = []
        self.seeds: list[int] = []

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        return list(text)

    def detokenize(self, tokens: Sequence[int], special: bool = False) -> bytes:
        return bytes(t for t in tokens if t != END)

    def set_seed(self, seed: int) -> None:
        self.seeds.append(seed)

    def generate(self, tokens: Sequence[int], **kwargs: Any) -> Iterator[int]:
        self.calls.append(kwargs)
        self.input_ids, self.n_tokens = list(tokens), len(tokens)
        for token in self.reply:
            self.input_ids.append(token)
            self.n_tokens += 1
            yield token


@pytest.fixture(autouse=True)
def _end_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "_is_end", lambda llama, token: token == END)


def model(reply: str, **kwargs: Any) -> tuple[LlamaCppChatModel, ScriptedLlama]:
    llama = ScriptedLlama(reply)
    return LlamaCppChatModel(llama=llama, model_id="test/gguf", **kwargs), llama


MESSAGES = [SystemMessage("Be brief."), HumanMessage("Wie hoch ist der Kölner Dom?")]


def test_invoke_applies_the_gguf_chat_template_and_reports_counts() -> None:
    chat, llama = model("Der Dom ist 157 Meter hoch.")
    reply = chat.invoke(MESSAGES)
    assert reply.content == "Der Dom ist 157 Meter hoch."
    prompt = bytes(llama.input_ids[: chat.prompt_tokens(MESSAGES)]).decode()
    assert prompt == "<system>Be brief.\n<user>Wie hoch ist der Kölner Dom?\n<assistant>"
    meta = reply.response_metadata
    assert meta["completion_tokens"] == len(b"Der Dom ist 157 Meter hoch.")
    assert meta["prompt_tokens"] == chat.prompt_tokens(MESSAGES) and meta["model_name"] == "test/gguf"
    assert (
        reply.usage_metadata is not None
        and reply.usage_metadata["output_tokens"] == meta["completion_tokens"]
    )


def test_streaming_never_splits_a_character_and_cuts_at_a_stop_string() -> None:
    chat, _ = model("绿茶用80度的水。STOP 不要这个")
    pieces = [str(c.content) for c in chat.stream(MESSAGES, stop=["STOP"])]
    assert "".join(pieces) == "绿茶用80度的水。"
    assert all("\ufffd" not in p for p in pieces), "multi-byte characters arrive whole"
    assert len([p for p in pieces if p]) > 3, "text arrives in pieces"


def test_decoding_maps_onto_llama_cpp_samplers() -> None:
    chat, llama = model("ok")
    chat.invoke(MESSAGES)
    assert llama.calls[-1]["temp"] == 0.0, "greedy is temperature 0 in llama.cpp"
    sample = Decoding(strategy="sample", temperature=0.6, top_k=20, top_p=0.8, seed=7, repetition_penalty=1.2)
    chat.invoke(MESSAGES, decoding=sample)
    assert {k: llama.calls[-1][k] for k in ("temp", "top_k", "top_p", "repeat_penalty")} == {
        "temp": 0.6,
        "top_k": 20,
        "top_p": 0.8,
        "repeat_penalty": 1.2,
    }
    assert llama.seeds == [7]


def test_max_new_tokens_and_the_context_budget() -> None:
    chat, _ = model("abcdefghij")
    assert chat.invoke(MESSAGES, decoding=Decoding(max_new_tokens=4)).content == "abcd"
    tight, _ = model("abc", context_tokens=10)
    with pytest.raises(GenerationError, match="context budget of 10"):
        tight.invoke(MESSAGES)


def test_beam_search_is_refused_with_a_hint() -> None:
    chat, _ = model("ok")
    with pytest.raises(GenerationError, match=r"beam search is not available with the llama\.cpp engine"):
        chat.invoke(MESSAGES, decoding=Decoding(strategy="beam", num_beams=2))


def test_a_repeated_prompt_prefix_is_reported_as_cached() -> None:
    chat, _ = model("ok")
    first = chat.invoke(MESSAGES).response_metadata
    second = chat.invoke(MESSAGES).response_metadata
    assert first["cached_prompt_tokens"] == 0
    assert second["cached_prompt_tokens"] == second["prompt_tokens"], "the whole prompt was still held"


def test_a_model_without_chat_template_is_a_clear_error() -> None:
    chat, llama = model("ok")
    llama.metadata.pop("tokenizer.chat_template")
    with pytest.raises(GenerationError, match="has no chat template"):
        chat.invoke(MESSAGES)
