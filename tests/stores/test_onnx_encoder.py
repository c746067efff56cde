"""OnnxSentenceEncoder: prompts, batching, order, truncation and inputs, on a fake session and tokenizer."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from babelrag.stores.embeddings import OnnxSentenceEncoder, SentenceTransformerEmbeddings

pytestmark = pytest.mark.unit


class CharTokenizer:
    """One id per character (its code point), 0 for padding; also returns token_type_ids."""

    def __call__(self, texts: list[str], **kwargs: Any) -> dict[str, Any]:
        limit = kwargs.get("max_length") if kwargs.get("truncation") else None
        ids = [[ord(c) for c in t][:limit] for t in texts]
        if kwargs.get("return_tensors") != "np":
            return {"input_ids": ids}
        width = max(map(len, ids))
        return {
            "input_ids": np.array([row + [0] * (width - len(row)) for row in ids], dtype=np.int32),
            "attention_mask": np.array([[1] * len(row) + [0] * (width - len(row)) for row in ids]),
            "token_type_ids": np.zeros((len(ids), width), dtype=np.int64),
        }


class FakeSession:
    """Per row: [real tokens, first token id, rows in the batch]; remembers what it was fed."""

    def __init__(self) -> None:
        self.feeds: list[dict[str, np.ndarray]] = []

    def get_inputs(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(name="input_ids"), SimpleNamespace(name="attention_mask")]

    def run(self, outputs: None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.feeds.append(feeds)
        ids, mask = feeds["input_ids"], feeds["attention_mask"]
        rows = np.full(len(ids), len(ids))
        return [np.stack([mask.sum(axis=1), ids[:, 0], rows], axis=1).astype(np.float32)]


def encoder(session: FakeSession, **kwargs: Any) -> OnnxSentenceEncoder:
    defaults: dict[str, Any] = {"dimension": 3, "max_seq_length": 8}
    return OnnxSentenceEncoder(session, CharTokenizer(), **(defaults | kwargs))


def test_rows_come_back_in_input_order_with_the_prompt_and_cut_at_the_limit() -> None:
    session = FakeSession()
    texts = ["bb", "a", "dddd", "ccc", "eeeeeeeeeeee"]
    out = encoder(session).encode(texts, prompt="q:", batch_size=2)
    assert out.dtype == np.float32 and out.shape == (5, 3)
    assert out[:, 0].tolist() == [4, 3, 6, 5, 8], "prompt counted, cut at max_seq_length"
    assert out[:, 1].tolist() == [ord("q")] * 5, "the prompt comes first"


def test_the_longest_texts_share_a_batch_and_only_the_graphs_inputs_are_fed() -> None:
    session = FakeSession()
    encoder(session).encode(["a", "bbbbb", "cc", "dddd", "eee"], batch_size=2)
    assert [feed["attention_mask"].sum(axis=1).tolist() for feed in session.feeds] == [[5, 4], [3, 2], [1]]
    assert all(set(feed) == {"input_ids", "attention_mask"} for feed in session.feeds)
    assert all(feed["input_ids"].dtype == np.int64 for feed in session.feeds)


def test_batch_size_one_runs_each_text_by_itself_so_its_vector_does_not_depend_on_batch_mates() -> None:
    session = FakeSession()
    out = encoder(session).encode(["a", "bbbbb", "cc"], batch_size=1)
    assert [feed["input_ids"].shape for feed in session.feeds] == [(1, 5), (1, 2), (1, 1)], "no padding"
    assert out[:, 2].tolist() == [1, 1, 1], "every run held one text"
    assert out[:, 0].tolist() == [1, 5, 2], "rows in input order"


def test_normalised_rows_have_unit_length_and_no_text_gives_no_rows() -> None:
    enc = encoder(FakeSession())
    out = enc.encode(["abc", "de"], normalize_embeddings=True)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)
    assert enc.encode([], normalize_embeddings=True).shape == (0, 3)


def test_the_embeddings_wrapper_takes_prompts_dimension_and_limit_from_the_encoder() -> None:
    session = FakeSession()
    enc = encoder(session, max_seq_length=64, prompts={"query": "query: ", "document": "passage: "})
    embeddings = SentenceTransformerEmbeddings(enc, model_id="someone/model")
    assert (embeddings.query_prompt, embeddings.document_prompt) == ("query: ", "passage: ")
    assert embeddings.dimension == 3
    assert embeddings.max_tokens == 64 - 2 - len("passage: ")
    assert embeddings.count_tokens("abc") == 3
    vectors = [*embeddings.embed_documents(["x", "yy"]), embeddings.embed_query("x")]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    fed = ["".join(chr(i) for i in feed["input_ids"][0] if i) for feed in session.feeds]
    assert fed == ["passage: yy", "query: x"]
