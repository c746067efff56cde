"""The transformers engine with the real packaged 0.5B model."""

from __future__ import annotations

import pytest

from babelrag.chains.generator import Decoding

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_transformers_engine_streams_and_honours_decoding_controls(qwen_chat_model) -> None:
    from langchain_core.messages import HumanMessage

    llm = qwen_chat_model
    prompt = [HumanMessage("Count from 1 to 10, one number per line.")]
    pieces = [c.content for c in llm.stream(prompt, stop=["6"])]
    text = "".join(pieces)
    assert len([p for p in pieces if p]) > 1, "streaming yields several pieces"
    assert "5" in text and "6" not in text and "7" not in text
    beam = llm.invoke(prompt, decoding=Decoding(strategy="beam", num_beams=2, max_new_tokens=12))
    assert beam.content and beam.response_metadata["strategy"] == "beam"
    a = llm.invoke(prompt, decoding=Decoding(strategy="sample", seed=7, max_new_tokens=12))
    b = llm.invoke(prompt, decoding=Decoding(strategy="sample", seed=7, max_new_tokens=12))
    assert a.content == b.content, "the same seed gives the same sample"
    meta = a.response_metadata
    assert meta["prompt_tokens"] > 0 and meta["completion_tokens"] > 0 and meta["prefill_s"] is not None
