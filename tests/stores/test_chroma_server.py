"""Chroma server mode: clear errors for a server that is not there, and one knowledge base shared
by several clients (as by several babelrag processes) through a real ``chroma run`` on loopback."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from babelrag.stores.chroma_server import open_chroma_server
from babelrag.stores.errors import EmbedderMismatchError, StoreError
from babelrag.stores.fakes import KeywordEmbeddings
from babelrag.stores.knowledge_store import KnowledgeStore, building_name, collection_name, previous_name
from babelrag.stores.lexical import BM25Index
from tests.conftest import free_port
from tests.store_cases import make_ingestor, write_kb

pytestmark = pytest.mark.unit


# -- errors ---------------------------------------------------------------------------------
def test_nothing_listening_is_one_clear_error_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreError) as info:
        open_chroma_server(url)
    assert url in info.value.message and "\n" not in info.value.message
    assert "chroma run --path DIR" in (info.value.hint or "")


@pytest.fixture
def web_server() -> Iterator[str]:
    """A plain web server that is not Chroma (every path is a 404 page)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_that_is_not_chroma_is_named_as_such(web_server: str) -> None:
    with pytest.raises(StoreError) as info:
        open_chroma_server(web_server)
    assert web_server in info.value.message
    assert "does not answer as a Chroma server" in info.value.message
    assert "<" not in info.value.message, "no web page in the message"


class _FakeClient:
    def __init__(self, version: str) -> None:
        self.version = version

    def get_version(self) -> str:
        return self.version


def test_another_major_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import chromadb

    monkeypatch.setattr(chromadb, "HttpClient", lambda **kwargs: _FakeClient("0.6.3"))
    with pytest.raises(StoreError, match=r"version 0\.6\.3") as info:
        open_chroma_server("http://chroma.example:8000")
    assert "chroma run" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("header", "expected"),
    [("authorization", {"Authorization": "Bearer s3cret"}), ("x-chroma-token", {"X-Chroma-Token": "s3cret"})],
)
def test_token_travels_in_the_chosen_header(monkeypatch: pytest.MonkeyPatch, header: str, expected) -> None:
    import chromadb

    seen: dict = {}

    def client(**kwargs):
        seen.update(kwargs)
        return _FakeClient(chromadb.__version__)

    monkeypatch.setattr(chromadb, "HttpClient", client)
    open_chroma_server("https://chroma.example", token="s3cret", token_header=header)
    assert seen["headers"] == expected
    assert (seen["host"], seen["port"], seen["ssl"]) == ("chroma.example", 443, True)


# -- one knowledge base, several clients --------------------------------------------------
@pytest.fixture
def two_clients(chroma_server_client, chroma_server_url: str):
    """Two independent HTTP clients of one server: what two babelrag processes hold."""
    return chroma_server_client, open_chroma_server(chroma_server_url)


def test_ingest_in_one_search_and_reingest_in_the_other(tmp_path: Path, two_clients) -> None:
    first, second = two_clients
    emb = KeywordEmbeddings(dimension=128)
    kb = write_kb(tmp_path)
    writer = make_ingestor(tmp_path, emb, client=first)
    report = writer.ingest([kb])
    assert len(report.added) == 3

    other = make_ingestor(tmp_path, emb, client=second)
    assert other.store.collection.id == writer.store.collection.id
    hits = other.store.search("green tea water temperature", k=3)
    assert hits[0].source == str((kb / "tea.md").resolve())
    again = other.ingest([kb])
    assert len(again.unchanged) == 3 and again.chunks_embedded == 0, "the fingerprints are on the server"
    assert other.store.count() == writer.store.count()


def test_a_write_by_one_client_is_seen_by_the_others_caches(tmp_path: Path, two_clients) -> None:
    first, second = two_clients
    emb = KeywordEmbeddings(dimension=128)
    kb = write_kb(tmp_path)
    writer = make_ingestor(tmp_path, emb, client=first)
    writer.ingest([kb / "tea.md"])
    reader = KnowledgeStore(client=second, name="test", embedder=emb)
    before = reader.revision()
    assert set(reader.languages()) == {"en"}
    assert reader.revision() == before, "reading changes nothing"

    writer.ingest([kb / "git.txt"])
    assert reader.revision() != before
    assert set(reader.languages()) == {"en", "zh"}, "language counts rebuilt after another's write"
    assert BM25Index.from_store(reader).search("撤销提交", k=1)[0].source.endswith("git.txt")


def test_a_kb_re_embedded_elsewhere_is_adopted_or_refused(tmp_path: Path, two_clients) -> None:
    from babelrag.stores.chunking import Chunker
    from babelrag.stores.reembed import reembed

    first, second = two_clients
    emb = KeywordEmbeddings(dimension=128)
    make_ingestor(tmp_path, emb, client=first).ingest([write_kb(tmp_path)])
    reader = KnowledgeStore(client=second, name="test", embedder=emb)
    old_id = reader.collection.id

    reembed(
        client=first,
        kb="test",
        embedder=emb,
        chunker=Chunker(emb.count_tokens, max_tokens=64, overlap_tokens=8),
    )
    reader.revision()
    assert reader.collection.id != old_id, "the new collection is adopted"
    assert reader.search("green tea", k=1)[0].source.endswith("tea.md")

    other = KeywordEmbeddings(dimension=64, model_id="fake/other")
    reembed(
        client=first,
        kb="test",
        embedder=other,
        chunker=Chunker(other.count_tokens, max_tokens=64, overlap_tokens=8),
    )
    with pytest.raises(EmbedderMismatchError, match="fake/other"):
        reader.revision()


def test_a_reader_waits_for_a_swap_in_progress_instead_of_undoing_it(
    tmp_path: Path, chroma_server_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between a re-embedding's two renames, ``kb-`` is missing and ``kbold-`` is there: the same
    as a re-embedding that stopped there. A reader must let the other process finish."""
    client = chroma_server_client
    emb = KeywordEmbeddings(dimension=32)
    make_ingestor(tmp_path, emb, client=client).ingest([write_kb(tmp_path)])
    new = KnowledgeStore(client=client, name="test", embedder=emb, collection=building_name("test"))
    client.get_collection(collection_name("test")).modify(name=previous_name("test"))  # first rename

    def other_process_finishes(seconds: float) -> None:
        client.get_collection(building_name("test")).modify(name=collection_name("test"))

    monkeypatch.setattr("babelrag.stores.knowledge_store.time.sleep", other_process_finishes)
    reader = KnowledgeStore(client=client, name="test", embedder=emb, create=False)
    assert reader.collection.id == new.collection.id, "the new index, not the old one renamed back"


def test_a_server_lost_mid_command_becomes_a_store_error_naming_it() -> None:
    import httpx

    from babelrag.stores.chroma_server import lost_server_error

    request = httpx.Request("POST", "http://chroma.lan:8000/api/v2/tenants/t/databases/d/collections")
    lost = lost_server_error(httpx.ConnectError("[Errno 111] Connection refused", request=request))
    assert lost is not None and "http://chroma.lan:8000" in lost.message and "chroma run" in (lost.hint or "")
    assert lost_server_error(ValueError("a bug")) is None, "anything else stays a bug with its traceback"


def test_creating_a_work_collection_is_exclusive_across_clients(two_clients) -> None:
    """What keeps two re-embeddings of one knowledge base from sharing one new collection."""
    first, second = two_clients
    emb = KeywordEmbeddings(dimension=16)
    KnowledgeStore(client=first, name="test", embedder=emb, collection=building_name("test"), exclusive=True)
    with pytest.raises(StoreError, match="being written by another process"):
        KnowledgeStore(
            client=second, name="test", embedder=emb, collection=building_name("test"), exclusive=True
        )
