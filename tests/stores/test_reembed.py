"""Re-embedding a knowledge base from its stored text, never losing the old index."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelrag.stores.catalog import Catalog
from babelrag.stores.chunking import Chunker
from babelrag.stores.fakes import KeywordEmbeddings
from babelrag.stores.ingest import Ingestor
from babelrag.stores.knowledge_store import KnowledgeStore, collection_name, previous_name
from babelrag.stores.langdetect import detect_language
from babelrag.stores.reembed import reembed
from tests.store_cases import make_ingestor, write_kb

pytestmark = pytest.mark.unit

OLD = KeywordEmbeddings(dimension=64, model_id="fake/old")
NEW = KeywordEmbeddings(dimension=128, model_id="fake/new")


def chunker(embedder: KeywordEmbeddings) -> Chunker:
    return Chunker(embedder.count_tokens, max_tokens=64, overlap_tokens=8)


@pytest.fixture
def kb(tmp_path: Path) -> tuple[Ingestor, Path]:
    ingestor = make_ingestor(tmp_path, OLD)
    files = write_kb(tmp_path)
    ingestor.ingest([files])
    return ingestor, files


def test_every_chunk_moves_to_the_new_embedder_and_ingest_stays_idempotent(kb) -> None:
    ingestor, files = kb
    client = ingestor.store.client
    before = ingestor.store.collection.get(include=["documents", "metadatas"])
    report = reembed(client=client, kb="test", embedder=NEW, chunker=chunker(NEW))
    assert (report.chunks, report.old_embedder, report.new_embedder, report.dimension) == (
        len(before["ids"]),
        "fake/old",
        "fake/new",
        128,
    )
    store = KnowledgeStore(client=client, name="test", embedder=NEW, create=False)
    after = store.collection.get(include=["documents", "metadatas"])
    assert sorted(after["ids"]) == sorted(before["ids"]) and sorted(after["documents"]) == sorted(
        before["documents"]
    )
    assert store.search("Fahrradkette ölen", k=1)[0].lang == "de", "the new vectors answer queries"
    assert Catalog(client).list() == {"test": store.chunk_count()}, "no work collection is left or listed"
    again = Ingestor(store=store, chunker=chunker(NEW), detect_language=detect_language).ingest([files])
    assert again.unchanged and not (again.added or again.updated), "fingerprints were moved too"


def test_an_interrupted_run_leaves_the_old_index_in_use(kb, monkeypatch) -> None:
    ingestor, _ = kb
    client = ingestor.store.client
    count = ingestor.store.count()

    def fail(texts: list[str]) -> list[list[float]]:
        raise KeyboardInterrupt

    broken = KeywordEmbeddings(dimension=128, model_id="fake/new")
    monkeypatch.setattr(broken, "embed_documents", fail)
    with pytest.raises(KeyboardInterrupt):
        reembed(client=client, kb="test", embedder=broken, chunker=chunker(NEW))
    old = KnowledgeStore(client=client, name="test", embedder=OLD, create=False)
    assert old.count() == count and old.search("git reset", k=1), "the old index still answers"
    report = reembed(client=client, kb="test", embedder=NEW, chunker=chunker(NEW))  # and a rerun works
    assert report.chunks == count


def test_a_swap_cut_between_its_renames_is_undone_on_open(kb) -> None:
    ingestor, _ = kb
    client = ingestor.store.client
    client.get_collection(collection_name("test")).modify(name=previous_name("test"))
    store = KnowledgeStore(client=client, name="test", embedder=OLD, create=False)
    assert store.count() == ingestor.store.count() and Catalog(client).list() == {"test": store.chunk_count()}
