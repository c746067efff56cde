"""LangChain's standard retriever suite (``langchain-tests``) run on ``CrossLingualRetriever``.

The knowledge base is the English/German/Chinese one of ``tests/store_cases.py`` in a Chroma
store in a temp dir. The query is English and a dictionary translator gives its German and
Chinese versions, so every call goes through translation and rank fusion, not only through
one vector search. The keyword fake embedder makes it a unit test; the packaged e5 an
integration test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_tests.integration_tests import RetrieversIntegrationTests

from babelrag.chains.retrieval import CrossLingualRetriever
from babelrag.stores.embeddings import TextEmbedder
from babelrag.stores.fakes import KeywordEmbeddings
from babelrag.stores.knowledge_store import KnowledgeStore
from babelrag.stores.langdetect import detect_language
from tests.store_cases import make_ingestor, write_kb

QUERY = "How hot should the water be for green tea?"
TRANSLATIONS = {
    "de": "Wie heiß sollte das Wasser für grünen Tee sein?",
    "zh": "泡绿茶的水应该多热？",
}


class DictTranslator:
    """Knows the translations of :data:`QUERY` and nothing else."""

    id = "fake:dict"

    def translate(self, text: str, source: str, target: str) -> str:
        return TRANSLATIONS.get(target, "") if (text, source) == (QUERY, "en") else ""


def build_store(root: Path, embedder: TextEmbedder) -> KnowledgeStore:
    ing = make_ingestor(root, embedder)
    report = ing.ingest([write_kb(root)])
    assert len(report.added) == 3 and not report.failed
    assert ing.store.count() >= 3, "the suite asks for 3 documents"
    return ing.store


@pytest.fixture(scope="module")
def keyword_store(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeStore:
    return build_store(tmp_path_factory.mktemp("standard-keyword"), KeywordEmbeddings(dimension=512))


@pytest.fixture(scope="module")
def e5_store(tmp_path_factory: pytest.TempPathFactory, e5_embeddings: TextEmbedder) -> KnowledgeStore:
    return build_store(tmp_path_factory.mktemp("standard-e5"), e5_embeddings)


class _CrossLingualRetrieverSuite:
    """The suite builds retrievers from plain properties; ``self.store`` is bound per test."""

    store: KnowledgeStore

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return CrossLingualRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "translator": DictTranslator(),
            "detect_language": detect_language,
            "k": 2,
        }

    @property
    def retriever_query_example(self) -> str:
        return QUERY

    def test_premise_translations_are_searched_and_merged(self, retriever: BaseRetriever) -> None:
        """Not a standard test: the suite above means something only if the translations really ran."""
        docs: list[Document] = retriever.invoke(QUERY)
        assert docs and all("rrf" in d.metadata for d in docs)
        assert any("translation:" in d.metadata["matched_by"] for d in docs)


@pytest.mark.unit
class TestCrossLingualRetrieverWithFakeEmbedder(_CrossLingualRetrieverSuite, RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _bind_store(self, keyword_store: KnowledgeStore) -> None:
        self.store = keyword_store


@pytest.mark.integration
class TestCrossLingualRetrieverWithE5(_CrossLingualRetrieverSuite, RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _bind_store(self, e5_store: KnowledgeStore) -> None:
        self.store = e5_store
