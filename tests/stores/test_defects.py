"""Regression tests for defects a new user met in the store layer (issue 15, point 5)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from babelrag.stores.chunking import Chunker
from babelrag.stores.fakes import KeywordEmbeddings, fake_tokens
from babelrag.stores.ingest import IngestReport, safe_metadata_key
from babelrag.stores.knowledge_store import KnowledgeStore
from babelrag.stores.loaders import FileLoader
from babelrag.stores.markdown_text import split_front_matter
from babelrag.stores.safe_yaml import YAMLLimitError, check_yaml_limits, safe_load
from tests.store_cases import make_ingestor

pytestmark = pytest.mark.unit

BAD_KEYS_MD = (
    '---\n$schema: http://example.org/s\n"#tags": [a, b]\n"": empty\nchroma:document: x\n---\nGreen tea.\n'
)
BAD_KEYS_JSONL = '{"text": "Coffee is roasted.", "$schema": 1, "": 2, "#x": 3, "metadata": {"$ref": "q"}}\n'


def ingestor(tmp_path: Path):
    return make_ingestor(tmp_path, KeywordEmbeddings(dimension=32))


class TestMetadataKeysChromaRejects:
    def test_jsonl_and_front_matter_keys_are_made_acceptable_and_every_file_lands(self, tmp_path) -> None:
        folder = tmp_path / "kb"
        folder.mkdir()
        (folder / "a.md").write_text(BAD_KEYS_MD, encoding="utf-8")
        (folder / "b.jsonl").write_text(BAD_KEYS_JSONL, encoding="utf-8")
        for n in range(5):
            (folder / f"c{n}.txt").write_text(f"Note {n} about rivers.", encoding="utf-8")
        ing = ingestor(tmp_path)
        report = ing.ingest([folder])
        assert not report.failed and len(report.added) == 7
        metas = {m["source"]: m for _, _, m in ing.store.iter_chunks()}
        md = metas[str((folder / "a.md").resolve())]
        assert md["schema"] == "http://example.org/s" and md["tags"] == "a, b"
        assert md["meta:chroma:document"] == "x" and "" not in md
        jl = metas[str((folder / "b.jsonl").resolve())]
        assert jl["schema"] == 1 and jl["x"] == 3 and jl["ref"] == "q"
        assert ing.ingest([folder]).unchanged, "a re-run is idempotent, not failing the same way"

    def test_key_rules(self) -> None:
        assert safe_metadata_key("$schema") == "schema"
        assert safe_metadata_key("#tags") == "tags"
        assert safe_metadata_key("  ") is None and safe_metadata_key("$#") is None
        assert safe_metadata_key("a$b") == "a$b"

    def test_a_written_key_wins_over_a_sanitised_one(self, tmp_path: Path) -> None:
        folder = tmp_path / "kb"
        folder.mkdir()
        (folder / "a.md").write_text("---\n$tags: bad\ntags: good\n---\nText.\n", encoding="utf-8")
        ing = ingestor(tmp_path)
        ing.ingest([folder])
        assert [m["tags"] for _, _, m in ing.store.iter_chunks()] == ["good"]

    def test_a_file_the_store_refuses_fails_alone(self, tmp_path: Path, monkeypatch) -> None:
        from chromadb.errors import InvalidArgumentError

        folder = tmp_path / "kb"
        folder.mkdir()
        for name in ("a.txt", "poison.txt", "z.txt"):
            (folder / name).write_text(f"Some text of {name}.", encoding="utf-8")
        ing = ingestor(tmp_path)
        original = KnowledgeStore.upsert

        def upsert(self, ids, texts, metadatas, vectors):
            if any("poison" in str(m["source"]) for m in metadatas):
                raise InvalidArgumentError("Validation error: metadatas: Invalid metadata at index 0")
            return original(self, ids, texts, metadatas, vectors)

        monkeypatch.setattr(KnowledgeStore, "upsert", upsert)
        report = ing.ingest([folder])
        assert len(report.added) == 2 and [Path(s).name for s, _ in report.failed] == ["poison.txt"]
        assert "refused" in report.failed[0][1]


def test_an_unreadable_subfolder_does_not_drop_the_files_after_it(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "kb"
    for sub in ("a", "b", "c"):
        (folder / sub).mkdir(parents=True)
        (folder / sub / f"{sub}.txt").write_text(f"Text in folder {sub}.", encoding="utf-8")
    real_iterdir = Path.iterdir

    def iterdir(self: Path):  # what chmod 000 does for a user who is not root
        if self.name == "b":
            raise PermissionError(13, "Permission denied")
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    report = ingestor(tmp_path).ingest([folder])
    assert sorted(Path(s).name for s in report.added) == ["a.txt", "c.txt"]
    failed = [(Path(p).name, why) for p, why in report.failed]
    assert failed == [("b", "cannot list folder (Permission denied)")]


class TestDeepYaml:
    DEEP = "x: " + "[" * 5000 + "]" * 5000

    def test_deep_front_matter_is_a_warning_and_the_file_lands(self, tmp_path: Path) -> None:
        fields, _, warnings = split_front_matter(f"---\n{self.DEEP}\n---\nBody.\n")
        assert fields == {} and "nested deeper than 64 levels" in warnings[0]

    def test_limits(self) -> None:
        assert safe_load("a: &x [1, 2]\nb: *x") == {"a": [1, 2], "b": [1, 2]}
        with pytest.raises(YAMLLimitError, match="deeper"):
            check_yaml_limits(self.DEEP)
        with pytest.raises(YAMLLimitError, match="refers to a collection it is in"):
            check_yaml_limits("a: &a [1, *a]")
        bomb = "a: &a [1,1,1,1,1,1,1,1,1,1]\n" + "".join(
            f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcde", "bcdef", strict=True)
        )
        with pytest.raises(YAMLLimitError, match="aliases are expanded"):
            check_yaml_limits(bomb)

    def test_deep_script_and_prompt_are_one_line_errors(self, tmp_path: Path) -> None:
        from babelrag.agents.scripting import load_script
        from babelrag.agents.scripting.errors import ScriptError
        from babelrag.chains.prompting import load_prompt
        from babelrag.stores.errors import TemplateError

        script = tmp_path / "deep.yaml"
        script.write_text(f"vars:\n  {self.DEEP}\nsteps: []\n", encoding="utf-8")
        with pytest.raises(ScriptError, match="line 2: nested deeper than 64 levels"):
            load_script(script)
        (tmp_path / "answer.yaml").write_text(f"messages: {self.DEEP[3:]}\n", encoding="utf-8")
        with pytest.raises(TemplateError, match="nested deeper"):
            load_prompt("answer", variables=["question"], user_dir=tmp_path)


class TestLongSingleLine:
    def test_the_tokenizer_never_sees_more_than_a_window(self) -> None:
        seen: list[int] = []

        def count(text: str) -> int:
            seen.append(len(text))
            return len(fake_tokens(text))

        chunker = Chunker(count, max_tokens=32, overlap_tokens=4)
        text = " ".join(f"word{i % 97}" for i in range(60_000))  # ~420 KB, no full stop
        advanced: list[int] = []
        chunks = chunker.split_text(text, advance=advanced.append)
        assert max(seen) <= 2 * 32 * 64 + 64, "bounded pieces: linear time, bounded memory"
        assert sum(advanced) == len(text), "progress covers the whole text"
        assert all(count(c) <= 32 for c in chunks)
        assert " ".join(chunks).split() == text.split(), "nothing lost, nothing repeated (no overlap here)"

    def test_a_file_over_the_size_limit_is_skipped_with_its_reason(self, tmp_path: Path) -> None:
        folder = tmp_path / "kb"
        folder.mkdir()
        (folder / "big.txt").write_text("tea " * 300_000, encoding="utf-8")
        (folder / "small.txt").write_text("Small text.", encoding="utf-8")
        ing = ingestor(tmp_path)
        ing.max_file_bytes = 1_000_000
        report = ing.ingest([folder])
        assert [Path(s).name for s in report.added] == ["small.txt"]
        ((source, why),) = report.failed
        assert source.endswith("big.txt") and "1.2 MB, over the limit of 1 MB" in why
        assert "ingest.max_file_mb" in why

    def test_a_long_document_shows_its_own_progress(self, tmp_path: Path, monkeypatch) -> None:
        from babelrag.stores import ingest
        from tests.stores.progress_recorder import RecordingProgress

        monkeypatch.setattr(ingest, "_LONG_DOCUMENT", 2000)  # instead of a megabyte of text
        (tmp_path / "long.txt").write_text("water " * 500, encoding="utf-8")
        (tmp_path / "short.txt").write_text("water " * 10, encoding="utf-8")
        progress = RecordingProgress()
        ingestor(tmp_path).ingest([tmp_path / "long.txt", tmp_path / "short.txt"], progress)
        chunking = progress.tasks["chunking long.txt"]
        assert chunking.total == chunking.done == len("water " * 500) - 1
        assert "chunking short.txt" not in progress.tasks


def test_pypdf_complaints_become_file_warnings_not_stderr(tmp_path: Path, capsys, caplog) -> None:
    path = tmp_path / "warn.pdf"
    path.write_bytes(DAMAGED_XREF_PDF)
    with caplog.at_level(logging.WARNING):
        docs, warnings = (loader := FileLoader(path)).load(), loader.warnings
    assert "Green tea likes warm water." in docs[0].page_content
    assert any(w.startswith("PDF: incorrect startxref") for w in warnings)
    captured = capsys.readouterr()
    assert captured.err == "" and not [r for r in caplog.records if r.name.startswith("pypdf")]


def test_an_interrupted_ingest_reports_what_it_wrote(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    for n in range(4):
        (folder / f"f{n}.txt").write_text(f"Text number {n} " + "about tea. " * n, encoding="utf-8")
    ing = ingestor(tmp_path)
    ing.batch_size = 1
    calls = 0
    original = ing.store.embedder.embed_documents

    def embed(texts):
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        return original(texts)

    monkeypatch.setattr(ing.store.embedder, "embed_documents", embed)
    report = IngestReport()
    with pytest.raises(KeyboardInterrupt):
        ing.ingest([folder], report=report)
    assert report.added, "the first file was written before the interruption"
    assert set(ing.store.sources()) == set(report.added), "the report says exactly what was kept"
    assert report.chunks_embedded == ing.store.collection.count() < 8


# a PDF whose cross-reference table points nowhere: pypdf repairs it, and complains
DAMAGED_XREF_PDF = b"".join(
    line + b"\n"
    for line in [
        b"%PDF-1.4",
        b"1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj",
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj",
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 300]/Contents 4 0 R"
        b"/Resources<</Font<</F1 5 0 R>>>>>>endobj",
        b"4 0 obj<</Length 60>>stream",
        b"BT /F1 12 Tf 20 200 Td (Green tea likes warm water.) Tj ET",
        b"endstream endobj",
        b"5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj",
        b"xref",
        b"0 6",
        b"0000000000 65535 f ",
        *[b"0000000099 00000 n "] * 5,
        b"trailer<</Size 6/Root 1 0 R>>",
        b"startxref",
        b"999",
        b"%%EOF",
    ]
)
