from __future__ import annotations

from pathlib import Path

import pytest

from babelrag.stores.fakes import KeywordEmbeddings
from babelrag.stores.knowledge_store import KnowledgeStore, open_chroma_client
from tests.store_cases import StoreCases, make_ingestor, write_kb

pytestmark = pytest.mark.unit


class TestStoreWithFakeEmbedder(StoreCases):
    @pytest.fixture
    def embedder(self) -> KeywordEmbeddings:
        return KeywordEmbeddings(dimension=128)


class TestStoreWithFakeEmbedderOnChromaServer(TestStoreWithFakeEmbedder):
    """The same cases through ``chromadb.HttpClient`` against a real ``chroma run`` on loopback."""

    @pytest.fixture
    def chroma_client(self, chroma_server_client):
        return chroma_server_client


def test_interrupted_update_keeps_the_old_chunks(tmp_path: Path) -> None:
    """If embedding fails half way, what was in the store is still there."""

    class Flaky(KeywordEmbeddings):
        fail = False

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            if self.fail:
                raise RuntimeError("out of memory")
            return super().embed_documents(texts)

    emb = Flaky(dimension=64)
    ing = make_ingestor(tmp_path, emb)
    kb = write_kb(tmp_path)
    ing.ingest([kb])
    before = ing.store.collection.get()["ids"]
    (kb / "tea.md").write_text("# Totally new\n\nNothing about tea at all now.\n", encoding="utf-8")
    emb.fail = True
    with pytest.raises(RuntimeError):
        ing.ingest([kb])
    assert sorted(ing.store.collection.get()["ids"]) == sorted(before)


def test_missing_kb_is_an_error_when_not_creating(tmp_path: Path) -> None:
    from babelrag.stores.errors import StoreError

    with pytest.raises(StoreError, match="babelrag ingest"):
        KnowledgeStore(
            client=open_chroma_client(tmp_path), name="nothing", embedder=KeywordEmbeddings(), create=False
        )


def test_collection_records_embedder_and_cosine_space(tmp_path: Path) -> None:
    store = KnowledgeStore(
        client=open_chroma_client(tmp_path), name="kb1", embedder=KeywordEmbeddings(dimension=32)
    )
    meta = store.collection.metadata
    assert meta["embedder_id"] == "fake/keywords" and meta["embedding_dim"] == 32
    assert store.collection.configuration_json["hnsw"]["space"] == "cosine"


def test_a_read_that_raced_a_delete_in_another_process_is_read_again(tmp_path: Path) -> None:
    from chromadb.errors import InternalError

    store = KnowledgeStore(
        client=open_chroma_client(tmp_path / "chroma"), name="k", embedder=KeywordEmbeddings(dimension=16)
    )
    calls = []

    def read() -> str:
        calls.append(1)
        if len(calls) == 1:  # what a search beside an ingest met once: the index named a deleted row
            raise InternalError("Error executing plan: Internal error: Error finding id")
        return "read"

    assert store.consistent(read) == "read" and len(calls) == 2

    def broken() -> str:
        raise InternalError("something else")

    with pytest.raises(InternalError, match="something else"):
        store.consistent(broken)
