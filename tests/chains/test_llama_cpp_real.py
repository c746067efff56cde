"""The llama.cpp engine with the real packaged 0.5B GGUF."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from babelrag.chains.generator import Decoding
from babelrag.stores.langdetect import detect_language

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COUNT = [HumanMessage("Count from 1 to 10, one number per line.")]


def test_streams_and_honours_decoding_controls(llama_chat_model) -> None:
    llm = llama_chat_model
    pieces = [str(c.content) for c in llm.stream(COUNT, stop=["6"])]
    text = "".join(pieces)
    assert len([p for p in pieces if p]) > 1, "streaming yields several pieces"
    assert "5" in text and "6" not in text and "7" not in text
    sample = Decoding(strategy="sample", seed=7, max_new_tokens=12, temperature=0.9)
    a, b = llm.invoke(COUNT, decoding=sample), llm.invoke(COUNT, decoding=sample)
    assert a.content == b.content, "the same seed gives the same sample"
    meta = a.response_metadata
    assert meta["prompt_tokens"] > 0 and 0 < meta["completion_tokens"] <= 12 and meta["prefill_s"] is not None
    assert meta["cached_prompt_tokens"] == meta["prompt_tokens"], (
        "the repeated prompt was kept in the KV cache"
    )


def test_answers_in_the_language_asked(llama_chat_model) -> None:
    messages = [
        SystemMessage("Always reply in Chinese."),
        HumanMessage("What is the capital of France? One short sentence."),
    ]
    reply = llama_chat_model.invoke(messages, decoding=Decoding(max_new_tokens=40))
    assert detect_language(str(reply.content)) == "zh" and "巴黎" in str(reply.content)


def test_counts_tokens_as_the_model_does(llama_chat_model) -> None:
    assert llama_chat_model.count_tokens("") == 0
    assert 1 <= llama_chat_model.count_tokens("hello") <= 2
    assert llama_chat_model.prompt_tokens(COUNT) > llama_chat_model.count_tokens(str(COUNT[0].content))
