"""``kb check`` / ``--repair`` and ``kb export`` / ``kb import`` at the store level (issue 15, point 4)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from babelrag.stores.errors import EmbedderMismatchError, StoreError
from babelrag.stores.export import export_jsonl, import_jsonl, read_header
from babelrag.stores.fakes import KeywordEmbeddings
from babelrag.stores.integrity import check, repair
from babelrag.stores.knowledge_store import KnowledgeStore, building_name, is_passage, open_chroma_client
from tests.store_cases import make_ingestor, write_kb

pytestmark = pytest.mark.unit

LONG = "\n\n".join(
    f"Paragraph {n} tells how river stones shape the water of mountain streams." for n in range(30)
)


def snapshot(store: KnowledgeStore) -> dict[str, tuple[str, dict, list[float]]]:
    got = store.collection.get(include=["documents", "metadatas", "embeddings"])
    return {
        cid: (text, dict(meta), list(map(float, vec)))
        for cid, text, meta, vec in zip(
            got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True
        )
    }


def assert_same(a: dict, b: dict, *, tolerance: float = 1e-6) -> None:
    assert a.keys() == b.keys()
    for cid, (text, meta, vec) in a.items():
        assert b[cid][0] == text and b[cid][1] == meta
        assert np.allclose(vec, b[cid][2], atol=tolerance)


@pytest.fixture
def kb(tmp_path: Path):
    folder = write_kb(tmp_path)
    (folder / "long.txt").write_text(LONG, encoding="utf-8")
    ingestor = make_ingestor(tmp_path, KeywordEmbeddings(dimension=32))
    assert not ingestor.ingest([folder]).failed
    return ingestor, folder


class TestCheck:
    def test_a_clean_knowledge_base_is_sound(self, kb, tmp_path) -> None:
        ingestor, _ = kb
        report = check(ingestor.store, chroma_dir=tmp_path / "chroma")
        assert report.ok and report.store_file == "ok" and report.sources == 4
        assert report.chunks == ingestor.store.count() > 4 and report.embedder_id == "fake/keywords"

    def test_every_kind_of_damage_is_found_and_repair_restores_a_clean_ingest(self, kb, tmp_path) -> None:
        ingestor, folder = kb
        store = ingestor.store
        clean = snapshot(store)
        long_source = str((folder / "long.txt").resolve())
        long_ids = sorted(store.chunks_of(long_source))
        tea = str((folder / "tea.md").resolve())
        tea_id = next(iter(store.chunks_of(tea)))
        store.collection.add(
            ids=["orphan"], documents=["stray"], metadatas=[{"x": 1}], embeddings=[[0.1] * 32]
        )
        store.collection.update(
            ids=[tea_id], documents=["a text that is not the one hashed"], embeddings=store.vectors([tea_id])
        )
        store.delete(long_ids[:1])  # a file cut short
        store.client.create_collection(building_name(store.name))  # an interrupted re-embedding
        report = check(store)
        assert not report.ok
        assert report.orphans == ["orphan"] and report.bad_ids == [tea_id]
        assert report.incomplete == [long_source] and report.leftovers == [building_name(store.name)]
        assert report.damaged_sources == sorted([long_source, tea])
        fixed = repair(store, report, reingest=ingestor.ingest)
        assert fixed.deleted == 2 and fixed.dropped == [building_name(store.name)]
        again = fixed.reingested
        assert sorted(again.updated + again.added) == sorted([long_source, tea]) and not again.unchanged
        assert check(store).ok
        assert_same(snapshot(store), clean)

    def test_an_interrupted_update_shows_as_two_versions_and_is_repaired(self, kb, monkeypatch) -> None:
        ingestor, folder = kb
        store = ingestor.store
        (folder / "long.txt").write_text(LONG.replace("Paragraph 3 ", "Absatz drei "), encoding="utf-8")
        monkeypatch.setattr(KnowledgeStore, "delete", lambda self, ids: None)  # killed before deleting
        ingestor.ingest([folder])
        monkeypatch.undo()
        report = check(store)
        assert report.mixed == [str((folder / "long.txt").resolve())] and not report.ok
        repair(store, report, reingest=ingestor.ingest)
        fresh = make_ingestor(folder.parent / "fresh", KeywordEmbeddings(dimension=32))
        fresh.ingest([folder])
        assert check(store).ok and snapshot(store).keys() == snapshot(fresh.store).keys()

    def test_missing_files_are_reported_not_removed(self, kb) -> None:
        ingestor, folder = kb
        (folder / "git.txt").unlink()
        report = check(ingestor.store)
        assert report.ok and report.missing_files == [str((folder / "git.txt").resolve())]
        repair(ingestor.store, report)
        assert str((folder / "git.txt").resolve()) in ingestor.store.sources()

    def test_a_damaged_store_file_is_reported(self, tmp_path: Path) -> None:
        from babelrag.stores.integrity import sqlite_integrity

        (tmp_path / "chroma.sqlite3").write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
        assert sqlite_integrity(tmp_path) != "ok"


class TestExportImport:
    def test_round_trip_is_exact_and_import_is_idempotent(self, kb, tmp_path) -> None:
        ingestor, _ = kb
        path = tmp_path / "backup.jsonl"
        exported = export_jsonl(ingestor.store, path, page=3)  # several pages
        assert exported.chunks == ingestor.store.count()
        header = read_header(path)
        assert header["embedder_id"] == "fake/keywords" and header["embedding_dim"] == 32
        other = open_chroma_client(tmp_path / "elsewhere")
        first = import_jsonl(other, path, kb="moved", batch=4)
        again = import_jsonl(other, path, kb="moved", batch=4)
        assert first.created and not again.created and first.chunks == again.chunks == exported.chunks
        moved = KnowledgeStore(
            client=other, name="moved", embedder=KeywordEmbeddings(dimension=32), create=False
        )
        assert_same(snapshot(moved), snapshot(ingestor.store), tolerance=0)  # float32 exactly
        assert check(moved).ok

    def test_the_export_file_appears_only_when_complete(self, kb, tmp_path) -> None:
        ingestor, _ = kb

        class Interrupting:
            from contextlib import contextmanager

            @contextmanager
            def task(self, description, total=None):
                class Task:
                    def advance(self, amount=1):
                        raise KeyboardInterrupt

                yield Task()

            def log(self, message):
                pass

        with pytest.raises(KeyboardInterrupt):
            export_jsonl(ingestor.store, tmp_path / "b.jsonl", progress=Interrupting(), page=2)
        assert not (tmp_path / "b.jsonl").exists() and not list(tmp_path.glob(".b.jsonl-*"))

    def test_importing_vectors_of_another_model_is_refused_or_reembedded(self, kb, tmp_path) -> None:
        ingestor, _ = kb
        path = tmp_path / "backup.jsonl"
        export_jsonl(ingestor.store, path)
        other_model = KeywordEmbeddings(dimension=48, model_id="fake/other")
        client = open_chroma_client(tmp_path / "elsewhere")
        KnowledgeStore(client=client, name="target", embedder=other_model, create=True)
        with pytest.raises(EmbedderMismatchError, match="--reembed"):
            import_jsonl(client, path, kb="target")
        report = import_jsonl(
            client, path, kb="target", reembed=other_model, fingerprint_hash={True: "t", False: "f"}
        )
        assert report.reembedded and report.chunks == ingestor.store.count()
        target = KnowledgeStore(client=client, name="target", embedder=other_model, create=False)
        _, (text, meta, vector) = next(iter(snapshot(target).items()))
        from babelrag.stores.context import contextual_text

        expected = other_model.embed_documents([contextual_text(str(meta.get("context") or ""), text)])[0]
        assert np.allclose(vector, expected, atol=1e-6) and meta["fingerprint"].endswith(":t")

    def test_bad_lines_are_skipped_and_said(self, kb, tmp_path) -> None:
        ingestor, _ = kb
        path = tmp_path / "backup.jsonl"
        export_jsonl(ingestor.store, path)
        lines = path.read_bytes().splitlines(keepends=True)
        good = json.loads(lines[1])
        bad = [
            b"not json\n",
            b"[1, 2]\n",
            json.dumps({**good, "vector": good["vector"][:-1]}).encode() + b"\n",
            json.dumps({**good, "vector": ["x"] * 32}).encode() + b"\n",
            json.dumps({**good, "metadata": {"$bad": 1}}).encode() + b"\n",
            b"\xff\xfe broken bytes\n",
        ]
        path.write_bytes(b"".join(lines[:2] + bad + lines[2:]))
        report = import_jsonl(open_chroma_client(tmp_path / "x"), path, kb="k")
        assert report.skipped == len(bad) and report.chunks == len(lines) - 1
        assert report.warnings[0] == "line 3: not valid JSON" and "not UTF-8" in report.warnings[-1]

    @pytest.mark.parametrize("content", [b"", b"{}\n", b'{"format": "babelrag-kb-export", "version": 9}\n'])
    def test_a_file_that_is_no_export_is_a_message(self, tmp_path: Path, content: bytes) -> None:
        path = tmp_path / "x.jsonl"
        path.write_bytes(content)
        with pytest.raises(StoreError):
            import_jsonl(open_chroma_client(tmp_path / "c"), path)


class Stop(BaseException):
    """A crash at a chosen write (a BaseException, as SIGKILL's stand-in: nothing catches it)."""


def texts_of(store: KnowledgeStore, source: str) -> set[str]:
    return {hit.text for hit in store.passages_of(source)}


class TestPublishing:
    """A file's new version is written hidden and published by one write (issue 15, point 2)."""

    def test_an_update_stopped_before_publishing_shows_the_old_version_and_the_next_run_the_new(
        self, kb, tmp_path, monkeypatch
    ) -> None:
        ingestor, folder = kb
        store, long = ingestor.store, folder / "long.txt"
        source = str(long.resolve())
        old = texts_of(store, source)
        long.write_text(LONG.replace("Paragraph 29", "The last paragraph"), encoding="utf-8")

        def crash(*args, **kwargs):
            raise Stop

        with monkeypatch.context() as patch:
            patch.setattr(store, "update_metadata", crash)
            with pytest.raises(Stop):
                ingestor.ingest([long])
        hidden = [m for m in store.chunks_of(source).values() if m.get("published") is False]
        assert hidden, "the new chunks are in the store, hidden"
        assert texts_of(store, source) == old
        vector = store.embedder.embed_query("the last paragraph")
        found = store.search_by_vector(vector, k=100)
        assert {h.text for h in found if h.source == source and h.is_chunk} <= old
        report = check(store)
        assert report.unpublished == [source] and source in report.damaged_sources and not report.ok

        assert ingestor.ingest([long]).updated == [source]
        new = texts_of(store, source)
        assert new != old and any("The last paragraph" in t for t in new)
        assert all(m.get("published") is True for m in store.chunks_of(source).values())
        assert check(store).ok

    def test_a_new_file_larger_than_one_write_appears_only_when_published(
        self, kb, tmp_path, monkeypatch
    ) -> None:
        ingestor, folder = kb
        store = ingestor.store
        extra = folder / "extra.txt"
        extra.write_text(LONG.replace("river stones", "glacier ice"), encoding="utf-8")
        source = str(extra.resolve())
        monkeypatch.setattr(store, "max_write", lambda: 2)  # several writes: hidden until published
        calls = []
        upsert = store.upsert

        def upsert_then_crash(*args, **kwargs):
            upsert(*args, **kwargs)
            calls.append(1)
            raise Stop

        with monkeypatch.context() as patch:
            patch.setattr(store, "upsert", upsert_then_crash)
            with pytest.raises(Stop):
                ingestor.ingest([extra])
        assert calls and store.chunks_of(source) and texts_of(store, source) == set()
        assert source not in store.sources()
        report = ingestor.ingest([extra])
        assert report.added == [source] and report.chunks_embedded == 0, "the hidden chunks are kept"
        assert len(texts_of(store, source)) == len(
            [m for m in store.chunks_of(source).values() if is_passage(m)]
        )
