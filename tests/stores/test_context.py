"""Chunk headers: the title and headings above a chunk, embedded and indexed with it, never shown."""

from __future__ import annotations

import json
from pathlib import Path

from babelrag.stores.chunking import Chunker
from babelrag.stores.context import (
    MAX_CONTEXT_CHARS,
    chunk_context,
    chunk_offsets,
    contextual_text,
    locate_headings,
)
from babelrag.stores.fakes import KeywordEmbeddings
from babelrag.stores.ingest import Ingestor
from babelrag.stores.knowledge_store import KnowledgeStore, open_chroma_client
from babelrag.stores.langdetect import detect_language
from babelrag.stores.lexical import BM25Index
from babelrag.stores.loaders import FileLoader
from babelrag.stores.reembed import reembed

GUIDE = """# Debian guide

Intro text about the guide: what it covers, who wrote it, and for which readers it is meant.

## Networking

### Wireless

Use the iwd daemon to join a network. It stores credentials per network.

## Packages

Install software with apt. The package cache lives in a folder of its own.
"""


class RecordingEmbeddings(KeywordEmbeddings):
    """The keyword fake, remembering what it was asked to embed."""

    def __init__(self) -> None:
        super().__init__(dimension=64)
        self.embedded: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded += texts
        return super().embed_documents(texts)


def test_headings_are_located_as_whole_lines_in_order() -> None:
    text = "Networking basics\n\nNetworking\n\nbody Networking\n\nWireless"
    assert locate_headings(text, [(2, "Networking"), (3, "Wireless"), (2, "Missing")]) == [
        (19, 2, "Networking"),
        (48, 3, "Wireless"),
    ]


def test_the_context_is_the_title_and_the_open_headings_above_the_chunk() -> None:
    headings = [(0, 1, "Debian guide"), (10, 2, "Networking"), (20, 3, "Wireless"), (40, 2, "Packages")]
    assert chunk_context("Debian guide", headings, 5) == "Debian guide"  # the H1 is the title: once
    assert chunk_context("Debian guide", headings, 25) == "Debian guide > Networking > Wireless"
    assert chunk_context("Debian guide", headings, 45) == "Debian guide > Packages"  # H3 closed by H2
    assert chunk_context(None, headings, 45) == "Debian guide > Packages"
    assert chunk_context("T", [], 0) == "T" and chunk_context("", [], 0) == ""
    long = chunk_context("x" * 500, [], 0)
    assert len(long) == MAX_CONTEXT_CHARS and long.endswith("…")
    assert contextual_text("T > H", "body") == "T > H\n\nbody" and contextual_text("", "body") == "body"


def test_chunk_offsets_follow_overlapping_chunks() -> None:
    text = "one two. three four. five six."
    assert chunk_offsets(text, ["one two. three four.", "three four. five six."]) == [0, 9]


def _ingestor(tmp_path: Path, embedder, *, context: bool = True, name: str = "kb") -> Ingestor:
    store = KnowledgeStore(client=open_chroma_client(tmp_path / "chroma"), name=name, embedder=embedder)
    chunker = Chunker(embedder.count_tokens, max_tokens=16, overlap_tokens=2)
    return Ingestor(store=store, chunker=chunker, detect_language=detect_language, context=context)


def test_markdown_headings_reach_every_chunk_as_its_header(tmp_path: Path) -> None:
    doc = tmp_path / "guide.md"
    doc.write_text(GUIDE, encoding="utf-8")
    headings = json.loads(FileLoader(doc).load()[0].metadata["headings"])
    assert [h[1:] for h in headings] == [
        [1, "Debian guide"],
        [2, "Networking"],
        [3, "Wireless"],
        [2, "Packages"],
    ]
    embedder = RecordingEmbeddings()
    ing = _ingestor(tmp_path, embedder)
    ing.ingest([doc])
    chunks = {text: meta for _, text, meta in ing.store.iter_chunks(texts=True)}
    wireless = next(m for t, m in chunks.items() if "iwd" in t)
    assert wireless["context"] == "Debian guide > Networking > Wireless"
    apt = next(m for t, m in chunks.items() if "apt." in t)
    assert apt["context"] == "Debian guide > Packages"
    # the stored passage is the chunk alone; the header went to the embedder with it
    assert all("Debian guide >" not in text for text in chunks)
    header = "Debian guide > Networking > Wireless\n\n"
    assert any(t.startswith(header) and "iwd" in t for t in embedder.embedded)
    # BM25 finds a chunk by a word only its header has (the title, for the Packages section)
    hits = BM25Index.from_store(ing.store).search("debian", k=10)
    assert any("apt." in hit.text and "Debian" not in hit.text for hit in hits)


def test_switching_headers_off_or_on_re_embeds_and_reingest_is_a_no_op(tmp_path: Path) -> None:
    doc = tmp_path / "guide.md"
    doc.write_text(GUIDE, encoding="utf-8")
    embedder = RecordingEmbeddings()
    first = _ingestor(tmp_path, embedder).ingest([doc])
    assert _ingestor(tmp_path, embedder).ingest([doc]).unchanged == first.added
    plain = _ingestor(tmp_path, embedder, context=False).ingest([doc])
    store = _ingestor(tmp_path, embedder, context=False).store
    headings = first.chunks_embedded - store.chunk_count()  # the header entries of the first ingest
    assert headings > 0 and store.count() == store.chunk_count(), "no header, no heading entry"
    assert plain.updated and plain.chunks_embedded == store.chunk_count() and not plain.chunks_kept
    assert all("context" not in meta for _, _, meta in store.iter_chunks(texts=True))


def test_reembed_embeds_the_header_with_the_chunk(tmp_path: Path) -> None:
    doc = tmp_path / "guide.md"
    doc.write_text(GUIDE, encoding="utf-8")
    ing = _ingestor(tmp_path, KeywordEmbeddings(dimension=64))
    ing.ingest([doc])
    target = RecordingEmbeddings()
    target.model_id = "fake/other"
    reembed(client=ing.store.client, kb="kb", embedder=target, chunker=ing.chunker)
    assert any(t.startswith("Debian guide > Packages\n\n") for t in target.embedded)
    # and the next ingest with the new embedder finds nothing to do
    again = _ingestor(tmp_path, target).ingest([doc])
    assert again.unchanged and not again.chunks_embedded


def test_headings_a_chunk_opens_with_are_part_of_its_context() -> None:
    text = "Guide\n\nIntro.\n\nNetworking\n\nWireless\n\nUse iwd."
    headings = locate_headings(text, [(1, "Guide"), (2, "Networking"), (3, "Wireless")])
    assert chunk_context("Guide", headings, text.index("Networking"), text) == "Guide > Networking > Wireless"
    assert chunk_context("Guide", headings, text.index("Intro"), text) == "Guide"


def test_neighbours_are_the_chunks_around_a_hit_in_its_document(tmp_path: Path) -> None:
    doc = tmp_path / "guide.md"
    doc.write_text(GUIDE, encoding="utf-8")
    ing = _ingestor(tmp_path, KeywordEmbeddings(dimension=64))
    ing.ingest([doc])
    hits = sorted(ing.store.search("daemon network credentials apt", k=20), key=lambda h: h.metadata["chunk"])
    first, middle, last = hits[0], hits[1], hits[-1]
    before, after = ing.store.neighbours(middle)
    assert before == first.text and after == hits[2].text
    assert ing.store.neighbours(first)[0] is None and ing.store.neighbours(last)[1] is None
