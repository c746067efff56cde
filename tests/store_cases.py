"""Store and ingestion behaviour, written once and run with a fake embedder (unit) and the
real packaged e5 (integration), each on embedded Chroma and on a real Chroma server:
idempotence, replace-on-change, removal, bad files, mismatch."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelrag.stores.chunking import Chunker
from babelrag.stores.errors import EmbedderMismatchError
from babelrag.stores.ingest import Ingestor, remove_sources
from babelrag.stores.knowledge_store import KnowledgeStore, open_chroma_client
from babelrag.stores.langdetect import detect_language

TEA = (
    "# Brewing green tea\n\nGreen tea tastes best with water at 75 to 80 degrees Celsius. "
    "Steep the leaves for about two minutes, then pour off all the water.\n\n"
    "Boiling water makes green tea bitter, because it extracts too many tannins.\n"
)
BIKE = (
    "# Fahrradkette pflegen\n\nEine Fahrradkette sollte alle 300 Kilometer gereinigt und geölt werden. "
    "Überschüssiges Öl wischt man mit einem Lappen ab, damit kein Schmutz haften bleibt.\n"
)
GIT = (
    "# 撤销提交\n\n如果最后一次提交有错误，可以使用 git reset --soft HEAD~1 撤销提交，但保留修改。"
    "已经推送到远程仓库的提交应该用 git revert 来撤销。\n"
)


def write_kb(root: Path) -> Path:
    kb = root / "kb"
    (kb / "sub").mkdir(parents=True)
    (kb / "tea.md").write_text(TEA, encoding="utf-8")
    (kb / "sub" / "bike.md").write_text(BIKE, encoding="utf-8")
    (kb / "git.txt").write_text(GIT, encoding="utf-8")
    return kb


def make_ingestor(tmp_path: Path, embedder, name: str = "test", *, client=None) -> Ingestor:
    """An ingestor into ``name``: embedded Chroma under ``tmp_path`` unless a client is given."""
    client = client if client is not None else open_chroma_client(tmp_path / "chroma")
    store = KnowledgeStore(client=client, name=name, embedder=embedder)
    chunker = Chunker(embedder.count_tokens, max_tokens=64, overlap_tokens=8)
    return Ingestor(store=store, chunker=chunker, detect_language=detect_language, batch_size=4)


class StoreCases:
    """Subclasses provide the ``embedder`` fixture, and may replace ``chroma_client`` (embedded)."""

    @pytest.fixture
    def chroma_client(self, tmp_path: Path):
        return open_chroma_client(tmp_path / "chroma")

    def test_ingest_is_idempotent(self, tmp_path: Path, embedder, chroma_client) -> None:
        ing = make_ingestor(tmp_path, embedder, client=chroma_client)
        kb = write_kb(tmp_path)
        first = ing.ingest([kb])
        assert len(first.added) == 3 and not first.failed
        count = ing.store.count()
        assert count == first.chunks_embedded > 0
        again = ing.ingest([kb])
        assert len(again.unchanged) == 3 and not again.added and not again.updated
        assert again.chunks_embedded == 0 and ing.store.count() == count

    def test_languages_are_detected_and_stored(self, tmp_path: Path, embedder, chroma_client) -> None:
        ing = make_ingestor(tmp_path, embedder, client=chroma_client)
        ing.ingest([write_kb(tmp_path)])
        assert set(ing.store.languages()) == {"en", "de", "zh"}

    def test_changed_file_replaces_its_chunks(self, tmp_path: Path, embedder, chroma_client) -> None:
        ing = make_ingestor(tmp_path, embedder, client=chroma_client)
        kb = write_kb(tmp_path)
        ing.ingest([kb])
        tea = kb / "tea.md"
        tea.write_text(TEA.replace("two minutes", "three minutes"), encoding="utf-8")
        report = ing.ingest([kb])
        assert report.updated == [str(tea.resolve())] and len(report.unchanged) == 2
        texts = [t for t in ing.store.collection.get(where={"source": str(tea.resolve())})["documents"]]
        assert any("three minutes" in t for t in texts)
        assert not any("two minutes" in t for t in texts), "the old text must be gone"

    def test_unchanged_chunks_of_an_edited_file_are_not_embedded_again(
        self, tmp_path: Path, embedder, chroma_client
    ) -> None:
        ing = make_ingestor(tmp_path, embedder, client=chroma_client)
        kb = write_kb(tmp_path)
        ing.ingest([kb])
        before = ing.store.count()
        (kb / "tea.md").write_text(TEA + "\nA new closing paragraph about matcha powder.\n", encoding="utf-8")
        report = ing.ingest([kb / "tea.md"])
        assert report.chunks_kept >= 1
        assert report.chunks_embedded < before

    def test_a_kept_chunk_loses_the_metadata_its_file_no_longer_gives(
        self, tmp_path: Path, embedder, chroma_client
    ) -> None:
        ing = make_ingestor(tmp_path, embedder, client=chroma_client)
        note = tmp_path / "note.md"
        note.write_text("---\ntags: draft\n---\n# Note\n\nTea grows on hills.\n", encoding="utf-8")
        ing.ingest([note])
        note.write_text("---\nowner: ann\n---\n# Note\n\nTea grows on hills.\n", encoding="utf-8")
        report = ing.ingest([note])
        assert report.updated and report.chunks_embedded == 0, "same text: the chunk is kept"
        metas = [m for _, _, m in ing.store.iter_chunks()]
        assert [m.get("owner") for m in metas] == ["ann"] and all("tags" not in m for m in metas)

    def test_remove_file_and_folder(self, tmp_path: Path, embedder, chroma_client) -> None:
        ing = make_ingestor(tmp_path, embedder, client=chroma_client)
        kb = write_kb(tmp_path)
        ing.ingest([kb])
        report = remove_sources(ing.store, [kb / "tea.md"])
        assert list(report.removed) == [str((kb / "tea.md").resolve())]
        assert str((kb / "tea.md").resolve()) not in ing.store.sources()
        report = remove_sources(ing.store, [kb / "sub", kb / "never-ingested.md"])
        assert list(report.removed) == [str((kb / "sub" / "bike.md").resolve())]
        assert report.not_found == [str(kb / "never-ingested.md")]
        assert list(ing.store.sources()) == [str((kb / "git.txt").resolve())]

    def test_bad_files_are_reported_and_the_rest_lands(self, tmp_path: Path, embedder, chroma_client) -> None:
        ing = make_ingestor(tmp_path, embedder, client=chroma_client)
        kb = write_kb(tmp_path)
        (kb / "empty.txt").write_text("   \n", encoding="utf-8")
        (kb / "binary.txt").write_bytes(b"\x00\x01\x02binary\x00data")
        (kb / "latin1.txt").write_bytes("Grüße aus Köln, schöne Straße".encode("latin-1"))
        (kb / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage")
        (kb / "bad.jsonl").write_text('{"nope": 1}\nnot json\n', encoding="utf-8")
        report = ing.ingest([kb, tmp_path / "missing-folder"])
        failed = {Path(path).name: reason for path, reason in report.failed}
        assert set(failed) == {
            "empty.txt",
            "binary.txt",
            "latin1.txt",
            "broken.pdf",
            "bad.jsonl",
            "missing-folder",
        }
        assert "empty" in failed["empty.txt"]
        assert "binary" in failed["binary.txt"]
        assert "UTF-8" in failed["latin1.txt"]
        assert "PDF" in failed["broken.pdf"]
        assert len(report.added) == 3, "good files still land"

    def test_other_embedder_on_same_kb_is_a_clear_error(
        self, tmp_path: Path, embedder, chroma_client
    ) -> None:
        from babelrag.stores.fakes import KeywordEmbeddings

        ing = make_ingestor(tmp_path, embedder, client=chroma_client)
        ing.ingest([write_kb(tmp_path)])
        other = KeywordEmbeddings(dimension=embedder.dimension, model_id="someone/else")
        with pytest.raises(EmbedderMismatchError) as info:
            KnowledgeStore(client=ing.store.client, name="test", embedder=other)
        assert embedder.model_id in str(info.value) and "someone/else" in str(info.value)
        # another knowledge base with the other embedder is fine
        KnowledgeStore(client=ing.store.client, name="other", embedder=other)

    def test_search_scores_filters_and_json_contract(self, tmp_path: Path, embedder, chroma_client) -> None:
        ing = make_ingestor(tmp_path, embedder, client=chroma_client)
        kb = write_kb(tmp_path)
        ing.ingest([kb])
        hits = ing.store.search("green tea water temperature", k=5)
        assert hits and all(0.0 <= h.score <= 1.0 for h in hits)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert hits[0].source == str((kb / "tea.md").resolve())
        assert set(hits[0].to_dict()) >= {"id", "source", "title", "lang", "score", "text"}
        assert hits[0].title == "Brewing green tea"
        only_de = ing.store.search("green tea water temperature", k=5, lang="de")
        assert only_de and {h.lang for h in only_de} == {"de"}
        by_title = ing.store.search("tea", k=5, where={"title": "撤销提交"})
        assert {h.source for h in by_title} == {str((kb / "git.txt").resolve())}
