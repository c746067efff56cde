"""Loaders: every format, every bad file, and the sample knowledge base."""

from __future__ import annotations

import io
import re
import unicodedata
from pathlib import Path

import pytest
from langchain_core.document_loaders import BaseLoader
from langchain_core.documents import Document

from babelrag.stores.errors import UnreadableFileError
from babelrag.stores.loaders import SUPPORTED_SUFFIXES, FileLoader, iter_source_files, make_document

pytestmark = pytest.mark.unit

SAMPLE_KB = Path(__file__).resolve().parents[2] / "examples" / "sample_kb"
SAMPLE_QUESTIONS = SAMPLE_KB.with_name("sample_kb_questions.md")


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def load_with_warnings(path: Path) -> tuple[list[Document], list[str]]:
    loader = FileLoader(path)
    return loader.load(), loader.warnings


def load(path: Path) -> list[Document]:
    return FileLoader(path).load()


def reason_of(path: Path) -> str:
    with pytest.raises(UnreadableFileError) as caught:
        load(path)
    assert caught.value.path == path
    return caught.value.reason


def only(path: Path) -> Document:
    documents = load(path)
    assert len(documents) == 1
    return documents[0]


def tiny_pdf(*page_texts: str, title: str | None = None, lang: str | None = None) -> bytes:
    """A hand-written PDF with one Helvetica text line per page and a correct xref table."""
    pages = len(page_texts)
    font = 3 + 2 * pages
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R" + (f" /Lang ({lang})".encode() if lang else b"") + b" >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(pages)), pages),
    ]
    for i, text in enumerate(page_texts):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (4 + 2 * i, font)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    if title is not None:
        objects.append(f"<< /Title ({title}) >>".encode("latin-1"))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    info = b" /Info %d 0 R" % len(objects) if title is not None else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, info, xref)
    return bytes(out)


class TestIterSourceFiles:
    def test_walks_folders_recursively_in_sorted_order(self, tmp_path: Path) -> None:
        for name in ["b.md", "a.txt", "sub/z.html", "sub/deeper/c.jsonl", "c.PDF", "A.htm"]:
            write(tmp_path, name, "x")
        found = [path.relative_to(tmp_path).as_posix() for path in iter_source_files([tmp_path])]
        assert found == ["A.htm", "a.txt", "b.md", "c.PDF", "sub/deeper/c.jsonl", "sub/z.html"]

    def test_skips_hidden_entries_and_unsupported_suffixes_in_folders(self, tmp_path: Path) -> None:
        for name in ["keep.md", ".hidden.md", ".git/config.txt", "notes.rst", "image.png", "sub/.env.txt"]:
            write(tmp_path, name, "x")
        assert list(iter_source_files([tmp_path])) == [tmp_path / "keep.md"]

    def test_files_given_explicitly_are_yielded_as_given(self, tmp_path: Path) -> None:
        hidden = write(tmp_path, ".notes.md", "x")
        other = write(tmp_path, "notes.rst", "x")
        assert list(iter_source_files([other, hidden])) == [other, hidden]

    def test_each_file_is_yielded_once(self, tmp_path: Path) -> None:
        doc = write(tmp_path, "doc.md", "x")
        assert list(iter_source_files([doc, tmp_path, tmp_path / "." / "doc.md"])) == [doc]

    def test_missing_path_fails_before_anything_is_yielded(self, tmp_path: Path) -> None:
        write(tmp_path, "doc.md", "x")
        missing = tmp_path / "typo"
        with pytest.raises(UnreadableFileError) as caught:
            iter_source_files([tmp_path, missing])
        assert caught.value.path == missing
        assert caught.value.reason == "no such file or folder"

    def test_symlink_loop_terminates(self, tmp_path: Path) -> None:
        write(tmp_path, "doc.md", "x")
        (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
        assert list(iter_source_files([tmp_path])) == [tmp_path / "doc.md"]

    def test_supported_suffixes(self) -> None:
        assert {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".jsonl"} == SUPPORTED_SUFFIXES


class TestText:
    def test_normalises_line_ends_spaces_blank_lines_and_unicode(self, tmp_path: Path) -> None:
        decomposed = unicodedata.normalize("NFD", "Übung")
        path = write(tmp_path, "notes.txt", f"Title  \r\n\r\n\r\n\r\n{decomposed} one\rline two   \n\n\n")
        document = only(path)
        assert document.page_content == "Title\n\nÜbung one\nline two"
        assert unicodedata.is_normalized("NFC", document.page_content)
        assert document.metadata == {"title": "Title"}

    def test_title_is_a_short_first_line(self, tmp_path: Path) -> None:
        assert (
            only(write(tmp_path, "n.txt", "\n\nShopping list\n\nmilk")).metadata["title"] == "Shopping list"
        )
        assert only(write(tmp_path, "h.txt", "## 撤销提交\n\n正文")).metadata["title"] == "撤销提交"
        assert only(write(tmp_path, "t.txt", "#hashtag\n\nbody")).metadata["title"] == "#hashtag"

    def test_title_falls_back_to_the_file_stem(self, tmp_path: Path) -> None:
        long_line = "This first line is a whole sentence that runs on well beyond any plausible title. " * 2
        assert only(write(tmp_path, "meeting-notes.txt", long_line)).metadata["title"] == "meeting-notes"

    def test_unsupported_text_file_given_explicitly_is_read_as_text(self, tmp_path: Path) -> None:
        assert only(write(tmp_path, "notes.rst", "Heading\n=======\n\nBody")).page_content.startswith(
            "Heading"
        )


class TestMarkdown:
    SOURCE = """---
title: From Front Matter
lang: de-DE
tags: [tea, brewing]
author:
  name: Ann
draft: false
---

# Heading with *emphasis*

Some **bold** text, a [link](https://example.org) and ![a picture](pic.png).
A soft break, `code *kept*` and \\*escaped stars\\*.

1. first
2. second
   - nested

| key | value |
|-----|-------|
| a   | 1     |

```sh
git reset --soft HEAD~1
```

> quoted

<div>inline <b>html</b></div>
"""

    def test_markup_is_removed_and_words_kept(self, tmp_path: Path) -> None:
        document = only(write(tmp_path, "doc.md", self.SOURCE))
        assert document.page_content == (
            "Heading with emphasis\n\n"
            "Some bold text, a link and a picture. A soft break, code *kept* and *escaped stars*.\n\n"
            "1. first\n2. second\n  - nested\n\n"
            "key | value\na | 1\n\n"
            "git reset --soft HEAD~1\n\n"
            "quoted\n\n"
            "inline html"
        )

    def test_front_matter_gives_title_language_and_metadata(self, tmp_path: Path) -> None:
        document = only(write(tmp_path, "doc.md", self.SOURCE))
        assert document.metadata["title"] == "From Front Matter"
        assert document.metadata["lang"] == "de"
        assert document.metadata == {
            "title": "From Front Matter",
            "headings": '[[0, 1, "Heading with emphasis"]]',  # where it is in the text, for chunk headers
            "lang": "de",
            "tags": "tea, brewing",
            "author.name": "Ann",
            "draft": False,
        }

    def test_title_is_the_first_heading_without_front_matter(self, tmp_path: Path) -> None:
        document = only(write(tmp_path, "doc.md", "Intro line\n\n## Setup *guide*\n\ntext\n\n# Later"))
        assert document.metadata["title"] == "Setup guide"

    def test_soft_breaks_between_chinese_characters_add_no_space(self, tmp_path: Path) -> None:
        assert (
            only(write(tmp_path, "zh.md", "第一行\n第二行 and\nmore")).page_content == "第一行第二行 and more"
        )

    def test_invalid_front_matter_is_kept_as_text_with_a_warning(self, tmp_path: Path) -> None:
        path = write(tmp_path, "doc.md", "---\ntitle: [unclosed\n---\n\nBody text")
        documents, warnings = load_with_warnings(path)
        assert "Body text" in documents[0].page_content
        assert len(warnings) == 1
        assert warnings[0].startswith("front matter is not valid YAML")

    def test_unknown_declared_language_is_left_to_detection(self, tmp_path: Path) -> None:
        documents, warnings = load_with_warnings(write(tmp_path, "d.md", "---\nlang: klingon\n---\nBody"))
        assert "lang" not in documents[0].metadata
        assert warnings == ["front matter: unknown language 'klingon', detecting it instead"]

    def test_front_matter_only_is_an_error(self, tmp_path: Path) -> None:
        path = write(tmp_path, "doc.md", "---\ntitle: Nothing here\n---\n\n<!-- a comment -->\n")
        assert reason_of(path) == "no text left after removing markup"


class TestHtml:
    PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><title>  Page
 Title </title><style>p { color: red }</style><script>var secret = 1;</script></head>
<body><nav><a href="/">Home</a> | <a href="/about">About</a></nav>
<h1>Main &amp; heading</h1>
<p>First   paragraph, <b>bold</b>
continues &eacute;t&eacute; &lt;tag&gt;.</p>
<p>Line one<br>line two</p>
<ul><li>apple</li><li>pear</li></ul>
<table><tr><th>k</th><th>v</th></tr><tr><td>1</td><td>2</td></tr></table>
<pre>  keep
    indentation</pre>
<!-- comment --><div hidden>hidden text</div>
<footer>Copyright notice</footer>
</body></html>"""

    def test_blocks_become_paragraphs_and_chrome_is_dropped(self, tmp_path: Path) -> None:
        document = only(write(tmp_path, "page.html", self.PAGE))
        assert document.page_content == (
            "Main & heading\n\n"
            "First paragraph, bold continues été <tag>.\n\n"
            "Line one\nline two\n\n"
            "- apple\n- pear\n\n"
            "k | v\n1 | 2\n\n"
            "  keep\n    indentation"
        )

    def test_title_and_language(self, tmp_path: Path) -> None:
        document = only(write(tmp_path, "page.htm", self.PAGE))
        assert document.metadata["title"] == "Page Title"
        assert document.metadata["lang"] == "zh"

    def test_title_falls_back_to_h1_then_stem(self, tmp_path: Path) -> None:
        assert (
            only(write(tmp_path, "a.html", "<h1>Only <i>h1</i></h1><p>x</p>")).metadata["title"] == "Only h1"
        )
        assert (
            only(write(tmp_path, "plain-page.html", "<p>no headings</p>")).metadata["title"] == "plain-page"
        )

    def test_declared_charset_is_honoured(self, tmp_path: Path) -> None:
        markup = '<html><head><meta charset="windows-1252"><title>Café</title></head><body>€ 5</body></html>'
        document = only(write(tmp_path, "legacy.html", markup.encode("cp1252")))
        assert document.metadata["title"] == "Café"
        assert document.page_content == "€ 5"

    def test_http_equiv_charset_is_honoured(self, tmp_path: Path) -> None:
        meta = '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">'
        path = write(
            tmp_path,
            "old.html",
            f"<html><head>{meta}</head><body><p>Gr\xfc\xdfe</p></body></html>".encode("latin-1"),
        )
        assert only(path).page_content == "Grüße"

    def test_page_without_visible_text_is_an_error(self, tmp_path: Path) -> None:
        path = write(tmp_path, "empty.html", "<html><script>var x;</script><nav>menu</nav></html>")
        assert reason_of(path) == "no text left after removing markup"


class TestJsonl:
    def test_records_become_documents(self, tmp_path: Path) -> None:
        lines = [
            '{"id": 7, "text": "First record", "title": "One", "lang": "de", "source": "wiki", "score": 0.5,'
            ' "metadata": {"author": {"name": "Ann"}, "tags": ["a", "b"], "missing": null}}',
            "",
            '{"content": "Second record", "language": "Chinese", "flag": true}',
            '{"body": "Third record", "nested": {"list": [1, {"x": 1}, 2]}}',
        ]
        documents, warnings = load_with_warnings(write(tmp_path, "data.jsonl", "\n".join(lines)))
        assert warnings == []
        first, second, third = documents
        assert [document.page_content for document in documents] == [
            "First record",
            "Second record",
            "Third record",
        ]
        assert first.metadata == {
            "title": "One",
            "lang": "de",
            "id": 7,
            "source": "wiki",
            "score": 0.5,
            "author.name": "Ann",
            "tags": "a, b",
            "line": 1,
        }
        assert second.metadata == {"title": "data #3", "lang": "zh", "flag": True, "line": 3}
        assert third.metadata == {"title": "data #4", "nested.list": "1, 2", "line": 4}

    def test_bad_lines_are_skipped_and_reported(self, tmp_path: Path) -> None:
        lines = [
            '{"text": "good"}',
            '{"text": "missing comma" "title": "x"}',
            "[1, 2]",
            '{"title": "no text"}',
            '{"text": "   "}',
            '{"text": "also good"}',
        ]
        documents, warnings = load_with_warnings(write(tmp_path, "data.jsonl", "\n".join(lines)))
        assert [document.page_content for document in documents] == ["good", "also good"]
        assert [document.metadata["line"] for document in documents] == [1, 6]
        assert warnings == [
            "line 2: not valid JSON (Expecting ',' delimiter at column 26)",
            "line 3: not a JSON object (got an array)",
            'line 4: no text (expected a non-empty string in "text", "content" or "body")',
            'line 5: no text (expected a non-empty string in "text", "content" or "body")',
        ]

    def test_user_metadata_cannot_pass_for_title_or_language(self, tmp_path: Path) -> None:
        lines = [
            '{"text": "one", "title": 5, "lang": "", "metadata": {"title": "fake", "lang": "fr"}}',
            '{"text": "two", "title": "Real", "language": "de", "metadata": {"lang": "fr"}}',
        ]
        first, second = load(write(tmp_path, "data.jsonl", "\n".join(lines)))
        assert first.metadata == {"title": "data #1", "line": 1}
        assert second.metadata == {"title": "Real", "lang": "de", "line": 2}

    def test_file_without_a_usable_line_is_an_error(self, tmp_path: Path) -> None:
        reason = reason_of(write(tmp_path, "data.jsonl", '{"title": "t"}\n{oops\n'))
        assert reason.startswith("no usable line in JSON Lines file (2 skipped; line 1: no text")


class TestPdf:
    def test_pages_are_joined_with_metadata_title(self, tmp_path: Path) -> None:
        path = write(
            tmp_path, "doc.pdf", tiny_pdf("First page text", "Second page text", title="Report 2024")
        )
        document = only(path)
        assert document.page_content == "First page text\n\nSecond page text"
        assert document.metadata["title"] == "Report 2024"
        assert document.metadata == {"title": "Report 2024", "pages": 2}

    def test_title_falls_back_to_first_line_and_lang_comes_from_catalog(self, tmp_path: Path) -> None:
        document = only(write(tmp_path, "doc.pdf", tiny_pdf("Kurzer Titel", title="", lang="de-DE")))
        assert document.metadata["title"] == "Kurzer Titel"
        assert document.metadata["lang"] == "de"

    def test_broken_pdf(self, tmp_path: Path) -> None:
        path = write(tmp_path, "broken.pdf", b"%PDF-1.7\n1 0 obj\n<< /Type /Catal")
        assert reason_of(path).startswith("broken PDF: ")

    def test_truncated_pdf(self, tmp_path: Path) -> None:
        path = write(tmp_path, "cut.pdf", tiny_pdf("Some text")[:150])
        assert reason_of(path).startswith("broken PDF: ")

    def test_pdf_without_text(self, tmp_path: Path) -> None:
        path = write(tmp_path, "scan.pdf", tiny_pdf(""))
        assert reason_of(path) == "PDF has no extractable text (scanned?); OCR it first, e.g. ocrmypdf"

    def test_encrypted_pdf(self, tmp_path: Path) -> None:
        from pypdf import PdfWriter

        writer = PdfWriter()
        writer.add_blank_page(200, 200)
        writer.encrypt("secret", algorithm="RC4-128")
        buffer = io.BytesIO()
        writer.write(buffer)
        reason = reason_of(write(tmp_path, "locked.pdf", buffer.getvalue()))
        assert reason.startswith("encrypted PDF")
        assert "qpdf --decrypt" in reason

    def test_pdf_with_only_an_owner_password_is_read(self, tmp_path: Path) -> None:
        from pypdf import PdfReader, PdfWriter

        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(tiny_pdf("Readable anyway"))))
        writer.encrypt("", owner_password="owner", algorithm="RC4-128")
        buffer = io.BytesIO()
        writer.write(buffer)
        assert only(write(tmp_path, "restricted.pdf", buffer.getvalue())).page_content == "Readable anyway"

    def test_text_file_named_pdf(self, tmp_path: Path) -> None:
        assert reason_of(write(tmp_path, "fake.pdf", "just text")) == "broken PDF: no %PDF- header, not a PDF"


class TestBadFiles:
    @pytest.mark.parametrize(
        ("suffix", "content"),
        [(suffix, b"") for suffix in (".txt", ".md", ".html", ".jsonl", ".pdf")]
        + [(suffix, b"   \n\t\r\n  ") for suffix in (".txt", ".md", ".html", ".jsonl", ".pdf")]
        + [
            (suffix, " \n\ufeff".encode(codec))
            for suffix in (".txt", ".jsonl")
            for codec in ("utf-8-sig", "utf-16")
        ],
    )
    def test_empty_or_blank_file(self, tmp_path: Path, suffix: str, content: bytes) -> None:
        assert reason_of(write(tmp_path, f"empty{suffix}", content)) == "empty file"

    @pytest.mark.parametrize("suffix", [".txt", ".md", ".html", ".jsonl"])
    def test_nul_bytes_mean_binary(self, tmp_path: Path, suffix: str) -> None:
        assert (
            reason_of(write(tmp_path, f"blob{suffix}", b"PK\x03\x04\x00\x00binary"))
            == "binary file, not text"
        )

    def test_control_bytes_mean_binary(self, tmp_path: Path) -> None:
        assert reason_of(write(tmp_path, "blob.txt", bytes(range(1, 32)) * 4)) == "binary file, not text"

    @pytest.mark.parametrize("name", ["image.png", "report.docx", "archive"])
    def test_binary_file_given_explicitly(self, tmp_path: Path, name: str) -> None:
        reason = reason_of(write(tmp_path, name, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"))
        assert reason.startswith("binary file, not text (supported formats: .htm, .html, .jsonl")

    def test_unsupported_suffix_with_undecodable_bytes_is_binary(self, tmp_path: Path) -> None:
        assert reason_of(write(tmp_path, "data.bin", b"\x8b\xe9\xf0 compressed")).startswith("binary file")

    def test_latin1_is_rejected_with_a_hint(self, tmp_path: Path) -> None:
        reason = reason_of(write(tmp_path, "notes.txt", "Grüße aus Köln".encode("latin-1")))
        assert reason.startswith("not valid UTF-8 (byte 0xfc at offset 2); convert it to UTF-8")
        assert "iconv" in reason

    @pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"])
    def test_unicode_with_a_byte_order_mark(self, tmp_path: Path, encoding: str) -> None:
        text = "Grüße, 你好\n\nzweiter Absatz"
        data = (
            ("\ufeff" + text).encode(encoding) if encoding.endswith(("le", "be")) else text.encode(encoding)
        )
        document = only(write(tmp_path, "bom.txt", data))
        assert document.page_content == text
        assert document.metadata["title"] == "Grüße, 你好"

    def test_utf16_without_a_byte_order_mark_gets_its_own_reason(self, tmp_path: Path) -> None:
        reason = reason_of(write(tmp_path, "nobom.txt", "plain ASCII words".encode("utf-16-le")))
        assert reason.startswith("looks like UTF-16 without a byte-order mark")

    def test_html_declaring_an_unknown_charset(self, tmp_path: Path) -> None:
        path = write(tmp_path, "x.html", b'<meta charset="klingon-8"><p>\xe9</p>')
        assert reason_of(path).startswith("declares an unknown charset 'klingon-8' and is not valid UTF-8")

    def test_html_not_matching_its_declared_charset(self, tmp_path: Path) -> None:
        path = write(tmp_path, "x.html", b'<meta charset="utf-8"><p>\xe9t\xe9</p>')
        assert reason_of(path).startswith("not valid UTF-8 (byte 0xe9 at offset 25)")

    def test_missing_file_and_folder(self, tmp_path: Path) -> None:
        assert reason_of(tmp_path / "nope.txt") == "no such file or folder"
        assert reason_of(tmp_path) == "is a folder, not a file"


class TestFileLoader:
    def test_is_a_langchain_loader_whose_load_gives_documents(self, tmp_path: Path) -> None:
        path = write(tmp_path, "doc.md", "---\nlang: de\nauthor: Ann\n---\n\n# Tee\n\nGrüner Tee.")
        loader = FileLoader(path)
        assert isinstance(loader, BaseLoader)
        documents = loader.load()
        assert all(isinstance(document, Document) for document in documents)
        assert [(d.page_content, d.metadata) for d in documents] == [
            (
                "Tee\n\nGrüner Tee.",
                {"title": "Tee", "lang": "de", "headings": '[[0, 1, "Tee"]]', "author": "Ann"},
            )
        ]
        assert [d.page_content for d in FileLoader(str(path)).lazy_load()] == ["Tee\n\nGrüner Tee."]

    def test_nothing_is_read_before_loading(self, tmp_path: Path) -> None:
        documents = FileLoader(tmp_path / "missing.txt").lazy_load()
        with pytest.raises(UnreadableFileError, match="no such file or folder"):
            next(documents)

    def test_warnings_are_collected_while_loading_and_reset_by_each_load(self, tmp_path: Path) -> None:
        path = write(tmp_path, "data.jsonl", '{"text": "ok"}\nnot json\n')
        loader = FileLoader(path)
        assert loader.warnings == []
        assert len(loader.load()) == 1
        assert len(loader.load()) == 1
        assert loader.warnings == ["line 2: not valid JSON (Expecting value at column 1)"]
        path.write_text('{"text": "ok"}\n', encoding="utf-8")
        loader.load()
        assert loader.warnings == []


class TestMakeDocument:
    def test_metadata_must_be_scalar(self) -> None:
        with pytest.raises(TypeError, match="metadata must map str"):
            make_document("t", title="t", metadata={"tags": ["a"]})  # type: ignore[dict-item]
        with pytest.raises(TypeError, match="metadata must map str"):
            make_document("t", title="t", metadata={1: "a"})  # type: ignore[dict-item]

    def test_metadata_is_copied(self) -> None:
        metadata: dict[str, str | int | float | bool] = {"a": 1}
        document = make_document("t", title="t", metadata=metadata)
        metadata["a"] = 2
        assert document.metadata == {"title": "t", "a": 1}
        assert metadata == {"a": 2}, "the caller's dict gains no title"

    def test_title_and_language_are_the_loaders_own(self) -> None:
        user = {"title": "user", "lang": "fr", "x": 1}
        assert make_document("t", title="T", metadata=user, lang="de").metadata == {
            "title": "T",
            "lang": "de",
            "x": 1,
        }
        assert make_document("t", title="T", metadata=user).metadata == {"title": "T", "x": 1}


class TestSampleKnowledgeBase:
    FILES = sorted(path for path in SAMPLE_KB.rglob("*") if path.is_file())

    @pytest.mark.parametrize("path", FILES, ids=lambda path: path.relative_to(SAMPLE_KB).as_posix())
    def test_every_file_loads_cleanly(self, path: Path) -> None:
        documents, warnings = load_with_warnings(path)
        assert warnings == []
        for document in documents:
            text = document.page_content
            assert document.metadata["title"].strip()
            assert len(text) > 100
            assert "](" not in text and "**" not in text and "<p>" not in text

    def test_walk_finds_every_file(self) -> None:
        assert list(iter_source_files([SAMPLE_KB])) == self.FILES

    def test_is_multilingual_and_big_enough(self) -> None:
        documents = [document for path in self.FILES for document in load(path)]
        assert len(documents) >= 14
        declared = {document.metadata.get("lang") for document in documents}
        assert {"en", "de", "zh", "fr"} <= declared

    def test_each_question_is_answered_by_exactly_one_document(self) -> None:
        documents = {
            (path.relative_to(SAMPLE_KB).as_posix(), document.metadata.get("line")): document.page_content
            for path in self.FILES
            for document in load(path)
        }
        rows = re.findall(
            r"^\| \d+ \| (\w+) \| (.+?) \| (.+?) \| .+? \| (.+?) \|$", SAMPLE_QUESTIONS.read_text(), re.M
        )
        assert len(rows) >= 10
        unanswerable = 0
        for lang, question, source, anchor in rows:
            if source == "—":
                unanswerable += 1
                continue
            file, _, line = source.partition(", line ")
            holders = [key for key, text in documents.items() if anchor.strip("`") in text]
            assert holders == [(file, int(line) if line else None)], question
            assert lang != load(SAMPLE_KB / file)[int(line or 1) - 1].metadata.get("lang"), (
                f"not cross-lingual: {question}"
            )
        assert unanswerable == 1
