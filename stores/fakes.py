"""Deterministic fakes for tests and examples (like LangChain's ``DeterministicFakeEmbedding``).

:class:`KeywordEmbeddings` hashes words (and single CJK characters) into a fixed number of
dimensions, so texts that share words are near each other: enough for retrieval logic to
be tested meaningfully without a model.
"""

from __future__ import annotations

import hashlib
import math
import re

from langchain_core.embeddings import Embeddings

from babelrag.stores.cjk import CJK

_TOKEN = re.compile(rf"[{CJK}]|[^\W_]+", re.UNICODE)


def fake_tokens(text: str) -> list[str]:
    """Lower-cased words, and CJK characters one by one."""
    return [t.lower() for t in _TOKEN.findall(text)]


class KeywordEmbeddings(Embeddings):
    """Bag-of-words hashing embedder; also counts tokens as :func:`fake_tokens` does."""

    def __init__(self, dimension: int = 256, model_id: str = "fake/keywords", max_tokens: int = 510) -> None:
        self.dimension = dimension
        self.model_id = model_id
        self.max_tokens = max_tokens

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self.dimension
        for token in fake_tokens(text):
            h = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
            vec[h % self.dimension] += 1.0 if (h >> 32) & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        return [v / norm for v in vec]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def count_tokens(self, text: str) -> int:
        return len(fake_tokens(text))
