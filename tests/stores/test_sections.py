"""Section entries: each run of two or more chunks under one header embedded whole beside them."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelrag.stores.chunking import Chunker
from babelrag.stores.context import MAX_SECTION_IDS, contextual_text, section_runs, section_text
from babelrag.stores.fakes import KeywordEmbeddings
from babelrag.stores.ingest import Ingestor
from babelrag.stores.integrity import check
from babelrag.stores.knowledge_store import KnowledgeStore, open_chroma_client
from babelrag.stores.langdetect import detect_language
from babelrag.stores.lexical import BM25Index
from babelrag.stores.reembed import reembed

pytestmark = pytest.mark.unit

GUIDE = (
    "# Guide\n\n## Networking\n\n"
    + " ".join(f"Wireless networks join with iwd, step {i} of the setup." for i in range(12))
    + "\n\n## Packages\n\nInstall software with apt.\n"
)


class RecordingEmbeddings(KeywordEmbeddings):
    def __init__(self, model_id: str = "fake/keywords") -> None:
        super().__init__(dimension=128, model_id=model_id)
        self.embedded: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded += texts
        return super().embed_documents(texts)


def ingestor(tmp_path: Path, embedder=None, **kwargs) -> Ingestor:
    embedder = embedder or RecordingEmbeddings()
    store = KnowledgeStore(client=open_chroma_client(tmp_path / "chroma"), name="kb", embedder=embedder)
    chunker = Chunker(embedder.count_tokens, max_tokens=32, overlap_tokens=4)
    return Ingestor(store=store, chunker=chunker, detect_language=detect_language, **kwargs)


def entries(store: KnowledgeStore) -> tuple[list, list]:
    """(chunks, section entries) as (id, text, metadata)."""
    rows = list(store.iter_chunks(texts=True, headings=True))
    return [r for r in rows if "chunk" in r[2]], [r for r in rows if "section_of" in r[2]]


def test_runs_are_consecutive_chunks_under_one_header_of_two_or_more() -> None:
    contexts = ["A", "A", "A > B", "A > C", "A > C", "", "", "A"]
    assert section_runs(contexts) == [("A", 0, 2), ("A > C", 3, 5)]
    assert section_runs([]) == [] and section_runs(["A"]) == []


def test_section_text_runs_from_its_first_chunk_to_the_next_section_and_is_capped() -> None:
    text = "one two. three four. five six."
    offsets = [0, 9, 21]
    assert section_text(text, offsets, 0, 2) == "one two. three four."
    assert section_text(text, offsets, 1, 3) == "three four. five six."
    assert len(section_text("x" * 10_000, [0, 10], 0, 2)) == 4000


def test_a_section_of_several_chunks_gets_one_entry_that_its_chunks_name(tmp_path: Path) -> None:
    doc = tmp_path / "guide.md"
    doc.write_text(GUIDE, encoding="utf-8")
    ing = ingestor(tmp_path)
    report = ing.ingest([doc])
    chunks, sections = entries(ing.store)
    networking = [c for c in chunks if c[2]["context"] == "Guide > Networking"]
    assert len(networking) >= 3 and len(sections) == 1, "Packages is one chunk: no entry of its own"
    sid, body, meta = sections[0]
    assert meta["section_of"] == networking[0][2]["chunk"] and meta["section_chunks"] == len(networking)
    assert body.startswith(networking[0][1][:40]) and "step 11 of the setup." in body
    assert body.count("step 5 of") == 1, "overlapping chunks are in the section once"
    assert all(c[2]["section"] == sid for c in networking)
    assert all("section" not in c[2] for c in chunks if c not in networking)
    assert contextual_text("Guide > Networking", body) in ing.store.embedder.embedded
    assert report.chunks_embedded == ing.store.count()
    # only passages reach listings, counts, BM25 and plain search
    assert ing.store.chunk_count() == len(chunks)
    assert sum(ing.store.sources().values()) == len(chunks) == len(BM25Index.from_store(ing.store))
    assert all("section_of" not in h.metadata for h in ing.store.passages_of(str(doc.resolve())))
    assert all(h.is_chunk for h in ing.store.search("wireless networks iwd setup", k=20))
    assert check(ing.store).ok, "kb check verifies section entries' ids"


def test_switching_sections_off_and_on_embeds_only_the_sections(tmp_path: Path) -> None:
    doc = tmp_path / "guide.md"
    doc.write_text(GUIDE, encoding="utf-8")
    first = ingestor(tmp_path).ingest([doc])
    off = ingestor(tmp_path, sections=False)
    report = off.ingest([doc])
    chunks, sections = entries(off.store)
    assert report.updated and report.chunks_embedded == 0 and report.chunks_removed == 1
    assert not sections and all("section" not in c[2] for c in chunks)
    assert ingestor(tmp_path, sections=False).ingest([doc]).unchanged
    on = ingestor(tmp_path).ingest([doc])
    assert on.chunks_embedded == 1 and on.chunks_kept == first.chunks_embedded - 1
    assert ingestor(tmp_path).ingest([doc]).unchanged


def test_reembed_moves_sections_and_the_next_ingest_has_nothing_to_do(tmp_path: Path) -> None:
    doc = tmp_path / "guide.md"
    doc.write_text(GUIDE, encoding="utf-8")
    ing = ingestor(tmp_path)
    ing.ingest([doc])
    count = ing.store.count()
    target = RecordingEmbeddings(model_id="fake/other")
    reembed(client=ing.store.client, kb="kb", embedder=target, chunker=ing.chunker)
    assert any(t.startswith("Guide > Networking\n\nWireless") and "step 11" in t for t in target.embedded)
    again = ingestor(tmp_path, target).ingest([doc])
    assert again.unchanged and not again.chunks_embedded and again_count(tmp_path, target) == count


def again_count(tmp_path: Path, embedder) -> int:
    return ingestor(tmp_path, embedder).store.count()


class Translator:
    id = "fake:german"

    def translate(self, text: str, source: str, target: str) -> str:
        return "Das drahtlose Netzwerk wird mit dem Programm eingerichtet, und das ist nicht schwer."


def test_sections_are_not_translated_and_translations_name_no_section(tmp_path: Path) -> None:
    doc = tmp_path / "guide.md"
    doc.write_text(GUIDE, encoding="utf-8")
    ing = ingestor(tmp_path, translator=Translator(), translate_to=("de",))
    ing.ingest([doc])
    chunks, sections = entries(ing.store)
    assert len(sections) == 1 and sections[0][2]["lang"] == "en"
    translated = [c for c in chunks if "translated_from" in c[2]]
    assert translated and all("section" not in c[2] for c in translated)


def test_a_long_section_names_only_its_first_chunks(tmp_path: Path) -> None:
    doc = tmp_path / "long.md"
    doc.write_text(
        "# Long\n\n" + " ".join(f"Sentence {i} of a long section about rivers." for i in range(200)) + "\n",
        encoding="utf-8",
    )
    ing = ingestor(tmp_path)
    ing.ingest([doc])
    chunks, sections = entries(ing.store)
    (_, _, meta), *_ = sections
    assert meta["section_chunks"] == len(chunks) > MAX_SECTION_IDS
    assert (
        meta["section_ids"].split(",")
        == [c[0] for c in sorted(chunks, key=lambda c: c[2]["chunk"])][:MAX_SECTION_IDS]
    ), "the chunks its vector read, not every chunk of the section"
    assert all(c[2]["section"] == sections[0][0] for c in chunks), "every chunk still counts its section"
