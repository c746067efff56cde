"""LangChain's standard embeddings suites (``langchain-tests``) run on babelrag's embedders.

Passing them is what lets either embedder stand in wherever LangChain takes an ``Embeddings``.
The keyword fake runs the unit suite and, being fast, the behaviour suite too; the packaged
multilingual-e5-small runs the behaviour suite, wrapped around the session's loaded model.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.embeddings import Embeddings
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from babelrag.stores.embeddings import SentenceTransformerEmbeddings
from babelrag.stores.fakes import KeywordEmbeddings


class _KeywordEmbeddingsSuite:
    @property
    def embeddings_class(self) -> type[Embeddings]:
        return KeywordEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"dimension": 64, "model_id": "fake/keywords-64"}


@pytest.mark.unit
class TestKeywordEmbeddingsUnit(_KeywordEmbeddingsSuite, EmbeddingsUnitTests):
    """Construction from plain parameters."""


@pytest.mark.unit
class TestKeywordEmbeddingsBehaviour(_KeywordEmbeddingsSuite, EmbeddingsIntegrationTests):
    """The behaviour suite needs no model, so the fake runs it as a unit test."""


@pytest.mark.integration
class TestSentenceTransformerEmbeddings(EmbeddingsIntegrationTests):
    """multilingual-e5-small through the behaviour suite; the weights are the session's, loaded once."""

    @property
    def embeddings_class(self) -> type[Embeddings]:
        return SentenceTransformerEmbeddings

    @pytest.fixture
    def model(self, e5_embeddings: SentenceTransformerEmbeddings) -> Embeddings:
        """A new embedder around the loaded model, built as the composition root builds one."""
        return self.embeddings_class(e5_embeddings.model, model_id=e5_embeddings.model_id, batch_size=2)
