"""Loaders given anything: every file ends as documents or a skip with a reason, never a crash
(random bytes with each supported suffix, invalid and mixed encodings, truncated, damaged and
encrypted PDFs, deeply nested HTML, JSONL of wrong types, hostile front matter), and one bad file
never keeps the rest of a batch out."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from babelrag.stores.errors import UnreadableFileError
from babelrag.stores.fakes import KeywordEmbeddings
from babelrag.stores.loaders import SUPPORTED_SUFFIXES, FileLoader
from tests.properties.support import bounded, tried
from tests.store_cases import make_ingestor

pytestmark = pytest.mark.unit

SCALARS = (str, int, float, bool)


def load_or_skip(path: Path) -> tuple[list, str | None]:
    """Documents and None, or [] and the reason the file was skipped; anything else fails the test."""
    with bounded():
        try:
            loader = FileLoader(path)
            docs = loader.load()
        except UnreadableFileError as exc:
            assert exc.reason and "\n" not in exc.reason, "a skip says why in one line"
            return [], exc.reason
    for doc in docs:
        assert isinstance(doc.page_content, str) and doc.page_content.strip()
        assert doc.metadata["title"] and all(isinstance(k, str) for k in doc.metadata)
        assert all(isinstance(v, SCALARS) for v in doc.metadata.values()), doc.metadata
    assert all(isinstance(w, str) for w in loader.warnings)
    return docs, None


def write(data: bytes, suffix: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="props-"))
    path = folder / f"input{suffix}"
    path.write_bytes(data)
    return path


@given(data=st.binary(max_size=4096), suffix=st.sampled_from(sorted(SUPPORTED_SUFFIXES | {".rst", ""})))
def test_random_bytes_with_any_suffix(data: bytes, suffix: str) -> None:
    tried("loader: random bytes")
    load_or_skip(write(data, suffix))


def mixed_encodings() -> st.SearchStrategy[bytes]:
    piece = st.one_of(
        st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.text(alphabet=st.characters(max_codepoint=255), max_size=100).map(lambda t: t.encode("latin-1")),
        st.text(max_size=50).map(lambda t: t.encode("utf-16")),
        st.binary(max_size=20),
    )
    return st.lists(piece, max_size=6).map(b"".join)


@given(data=mixed_encodings(), suffix=st.sampled_from([".txt", ".md", ".html", ".jsonl"]))
def test_invalid_utf8_and_mixed_encodings(data: bytes, suffix: str) -> None:
    tried("loader: mixed encodings")
    load_or_skip(write(data, suffix))


@given(depth=st.integers(0, 20_000), tag=st.sampled_from(["div", "span", "ul><li", "table><tr><td", "b"]))
def test_deeply_nested_html(depth: int, tag: str) -> None:
    tried("loader: nested HTML")
    opening, closing = f"<{tag}>", "".join(f"</{t}>" for t in reversed(tag.split("><")))
    html = f"<html><body>{opening * depth}Deep text about tea.{closing * depth}<p>After.</p></body></html>"
    docs, reason = load_or_skip(write(html.encode(), ".html"))
    assert reason is None and "After." in docs[0].page_content


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(lines=st.lists(JSON, max_size=8), good=st.booleans())
def test_jsonl_with_wrong_types(lines: list, good: bool) -> None:
    tried("loader: JSONL of wrong types")
    rows = [json.dumps(line) for line in lines] + (['{"text": "A good line about rivers."}'] if good else [])
    docs, reason = load_or_skip(write("\n".join(rows).encode(), ".jsonl"))
    if good:
        assert reason is None and any("A good line about rivers." in d.page_content for d in docs)


KEYS = st.one_of(
    st.text(max_size=12), st.sampled_from(["$schema", "#tags", "", "title", "lang", "chroma:document"])
)
YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=15,
)


@given(fields=st.dictionaries(KEYS, YAML_VALUES, max_size=6))
def test_markdown_front_matter_of_any_shape_is_ingested(fields: dict, tmp_path_factory) -> None:
    tried("loader: front matter")
    front = yaml.safe_dump(fields, allow_unicode=True)
    path = write(f"---\n{front}---\n# Heading\n\nBody about green tea.\n".encode(), ".md")
    docs, reason = load_or_skip(path)
    assert reason is None and "Body about green tea." in docs[0].page_content


def pdf_bytes(text: str = "Green tea likes warm water.", password: str | None = None) -> bytes:
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(300, 300)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    stream = DecodedStreamObject()
    stream.set_data(f"BT /F1 12 Tf 20 200 Td ({text}) Tj ET".encode())
    page[NameObject("/Contents")] = writer._add_object(stream)
    if password:
        writer.encrypt(password, algorithm="RC4-128")  # AES needs `cryptography`
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


PDF = pdf_bytes()


def test_the_pdf_the_properties_start_from_is_read() -> None:
    docs, reason = load_or_skip(write(PDF, ".pdf"))
    assert reason is None and "Green tea likes warm water." in docs[0].page_content


@given(cut=st.integers(0, len(PDF)))
def test_truncated_pdfs(cut: int) -> None:
    tried("loader: truncated PDF")
    load_or_skip(write(PDF[:cut], ".pdf"))


@given(flips=st.lists(st.tuples(st.integers(0, len(PDF) - 1), st.integers(0, 255)), min_size=1, max_size=20))
def test_damaged_pdfs(flips: list[tuple[int, int]]) -> None:
    tried("loader: damaged PDF")
    data = bytearray(PDF)
    for at, byte in flips:
        data[at] = byte
    load_or_skip(write(bytes(data), ".pdf"))


def test_encrypted_pdfs_are_skipped_with_how_to_decrypt() -> None:
    tried("loader: encrypted PDF")
    docs, reason = load_or_skip(write(pdf_bytes(password="secret"), ".pdf"))
    assert docs == [] and reason is not None and "encrypted PDF" in reason and "qpdf --decrypt" in reason


def test_a_huge_single_line_file_is_read_in_bounded_time(tmp_path: Path) -> None:
    """5 MB on one line without a full stop (the 100 MB case is the size limit's: see test_defects)."""
    from babelrag.stores.chunking import Chunker

    tried("loader: huge single line")
    path = tmp_path / "line.txt"
    path.write_text("river " * 850_000, encoding="utf-8")
    with bounded(120):
        (doc,) = FileLoader(path).load()
        chunks = Chunker(KeywordEmbeddings().count_tokens, max_tokens=200, overlap_tokens=0).split_text(
            doc.page_content
        )
    sizes = [c.count("river") for c in chunks]
    assert sum(sizes) == 850_000 and max(sizes) <= 200, "every word once, no chunk too long"
    assert len(chunks) <= 1.05 * 850_000 / 200, "windows cost at most one short chunk each"


@settings(max_examples=10)
@given(
    bad=st.lists(st.tuples(st.binary(max_size=512), st.sampled_from(sorted(SUPPORTED_SUFFIXES))), max_size=5)
)
def test_bad_files_never_keep_the_rest_of_the_batch_out(bad: list[tuple[bytes, str]]) -> None:
    tried("ingest: batches with bad files")
    folder = Path(tempfile.mkdtemp(prefix="batch-"))
    (folder / "docs").mkdir()
    for n, (data, suffix) in enumerate(bad):
        (folder / "docs" / f"bad{n}{suffix}").write_bytes(data)
    (folder / "docs" / "zz-good.txt").write_text("A good file about mountain rivers.", encoding="utf-8")
    ingestor = make_ingestor(folder, KeywordEmbeddings(dimension=16))
    with bounded(60):
        report = ingestor.ingest([folder / "docs"])
    landed = report.added
    assert str((folder / "docs" / "zz-good.txt").resolve()) in landed
    assert len(landed) + len(report.failed) == len(bad) + 1, (
        "every file is either in or skipped with a reason"
    )
