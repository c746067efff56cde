"""Files to documents: the first step of ingestion, and the one that must never guess.

:class:`FileLoader` is a LangChain ``BaseLoader``: every supported format becomes ``Document``
objects of clean paragraphs whose metadata holds scalars only (as Chroma requires), with
``title`` always and ``lang`` only where the file declared one. A file that cannot be read raises
:class:`UnreadableFileError` whose reason says why and what to do, so one bad file in a folder is
reported instead of crashing the run or filling the store with garbage. The heavy parsers (pypdf,
BeautifulSoup, markdown-it) are imported on first use: the CLI must start fast.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from langchain_core.document_loaders import BaseLoader
from langchain_core.documents import Document

from babelrag.stores.context import locate_headings
from babelrag.stores.errors import UnreadableFileError
from babelrag.stores.jsonl_records import Scalar, flatten_metadata, parse_jsonl
from babelrag.stores.langdetect import normalize_language_code
from babelrag.stores.text_decoding import collapse_whitespace, decode_text, is_text, normalise_text

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".jsonl"}
)

_HTML_SUFFIXES = frozenset({".html", ".htm"})
_SHORT_LINE = 80
_MAX_TITLE = 200
_HEADING_MARK = re.compile(r"^\s*#{1,6}\s+")
_JUNK_PDF_TITLE = re.compile(r"(?i)^(untitled|microsoft (word|powerpoint) - |.*\.(docx?|pptx?|odt|tex)$)")


# Keys the loader owns: a document's user metadata never overrides them.
_OWN_KEYS = frozenset({"title", "lang", "headings"})


def make_document(
    text: str,
    *,
    title: str,
    metadata: Mapping[str, Scalar] | None = None,
    lang: str | None = None,
    headings: Sequence[tuple[int, str]] = (),
) -> Document:
    """A document ready for chunking: user metadata (scalars only, as Chroma requires, and
    copied, so the caller's dict stays theirs) plus ``title``, ``lang`` when one was declared, and
    ``headings``: the (level, text) headings a converter found, located in ``text`` and kept as
    JSON ``[[offset, level, text], …]`` for the chunks' context (see ``stores/context.py``).

    A user ``title``, ``lang`` or ``headings`` key is dropped rather than allowed to pass for the
    real ones.
    """
    metadata = metadata or {}
    bad = {key: value for key, value in metadata.items() if not isinstance(value, Scalar)}
    if bad or not all(isinstance(key, str) for key in metadata):
        raise TypeError(f"metadata must map str to str, int, float or bool; got {bad or metadata}")
    own: dict[str, Scalar] = {"title": title, **({"lang": lang} if lang else {})}
    located = locate_headings(text, [(level, normalise_text(h)) for level, h in headings])
    if located:
        own["headings"] = json.dumps(located, ensure_ascii=False)
    user = {key: value for key, value in metadata.items() if key not in _OWN_KEYS}
    return Document(page_content=text, metadata={**own, **user})


def _title(candidate: str | None) -> str | None:
    title = collapse_whitespace(candidate or "")
    return title[: _MAX_TITLE - 1] + "…" if len(title) > _MAX_TITLE else title or None


def _first_short_line(text: str) -> str | None:
    """A first line short enough to be a heading, as plain-text and PDF documents usually start.

    A Markdown-style ``# `` is dropped: plain-text notes are often written that way.
    """
    line = _HEADING_MARK.sub("", next((line for line in text.split("\n") if line.strip()), ""))
    return _title(line) if len(line.strip()) <= _SHORT_LINE else None


def _lang(value: object, warnings: list[str], where: str) -> str | None:
    """ISO 639-1 code of a declared language, as the detector would give; unknown ones are detected."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return normalize_language_code(value)
    except ValueError:
        warnings.append(f"{where}: unknown language {value.strip()!r}, detecting it instead")
        return None


def _require_text(path: Path, text: str) -> str:
    if not text:
        raise UnreadableFileError(path, "no text left after removing markup")
    return text


def _load_txt(path: Path, source: str) -> tuple[list[Document], list[str]]:
    text = _require_text(path, normalise_text(source))
    return [make_document(text, title=_first_short_line(text) or path.stem)], []


def _load_markdown(path: Path, source: str) -> tuple[list[Document], list[str]]:
    from babelrag.stores.markdown_text import markdown_to_text

    parsed = markdown_to_text(source)
    text = _require_text(path, normalise_text(parsed.text))
    fields = dict(parsed.front_matter)
    title = _title(str(fields.pop("title", "") or "")) or _title(parsed.title)
    warnings = list(parsed.warnings)
    declared = fields.pop("lang", None) or fields.pop("language", None)
    fields.pop("language", None)
    document = make_document(
        text,
        title=title or _first_short_line(text) or path.stem,
        metadata=flatten_metadata(fields),
        lang=_lang(declared, warnings, "front matter"),
        headings=parsed.headings,
    )
    return [document], warnings


def _load_html(path: Path, source: str) -> tuple[list[Document], list[str]]:
    from babelrag.stores.html_text import html_to_text

    parsed = html_to_text(source)
    text = _require_text(path, normalise_text(parsed.text))
    title = _title(parsed.title) or path.stem
    warnings: list[str] = []
    lang = _lang(parsed.lang, warnings, "<html lang>")
    return [make_document(text, title=title, lang=lang, headings=parsed.headings)], warnings


def _load_jsonl(path: Path, source: str) -> tuple[list[Document], list[str]]:
    records, warnings = parse_jsonl(source)
    documents = [
        make_document(
            text,
            title=_title(record.title) or f"{path.stem} #{record.line}",
            metadata=record.metadata,
            lang=_lang(record.lang, warnings, f"line {record.line}"),
        )
        for record in records
        if (text := normalise_text(record.text))
    ]
    if not documents:
        first = f"; {warnings[0]}" if warnings else ""
        raise UnreadableFileError(path, f"no usable line in JSON Lines file ({len(warnings)} skipped{first})")
    return documents, warnings


def _load_pdf(path: Path, data: bytes) -> tuple[list[Document], list[str]]:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    if b"%PDF-" not in data[:1024]:
        reason = "binary file, not text" if not is_text(data) else "broken PDF: no %PDF- header, not a PDF"
        raise UnreadableFileError(path, reason)
    warnings: list[str] = []
    try:
        with _pypdf_messages(warnings):
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise FileNotDecryptedError("password required")
            pages = [normalise_text(page.extract_text() or "") for page in reader.pages]
            metadata_title = reader.metadata.title if reader.metadata else None
            declared_lang = reader.trailer["/Root"].get("/Lang")
    except (FileNotDecryptedError, DependencyError) as exc:
        raise UnreadableFileError(
            path, f"encrypted PDF ({exc}); save an unprotected copy, e.g. qpdf --decrypt IN.pdf OUT.pdf"
        ) from exc
    except Exception as exc:  # pypdf raises anything from PdfReadError to KeyError on damaged files
        raise UnreadableFileError(path, f"broken PDF: {exc or type(exc).__name__}") from exc
    if not pages:
        raise UnreadableFileError(path, "broken PDF: it has no pages")
    text = "\n\n".join(page for page in pages if page)
    if not text:
        raise UnreadableFileError(path, "PDF has no extractable text (scanned?); OCR it first, e.g. ocrmypdf")
    title = _title(str(metadata_title or ""))
    if title and _JUNK_PDF_TITLE.match(title):
        title = None
    document = make_document(
        text,
        title=title or _first_short_line(text) or path.stem,
        metadata={"pages": len(pages)},
        lang=_lang(str(declared_lang), warnings, "PDF /Lang") if declared_lang else None,
    )
    return [document], warnings


@contextmanager
def _pypdf_messages(warnings: list[str], limit: int = 5) -> Iterator[None]:
    """pypdf's complaints about a damaged file (logged, or warned) become the file's warnings,
    at most ``limit`` of them, instead of lines on stderr between the progress bars."""
    import logging
    import warnings as py_warnings

    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    logger = logging.getLogger("pypdf")
    handler, propagate = Collect(logging.WARNING), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with py_warnings.catch_warnings(record=True) as caught:
            py_warnings.simplefilter("always")
            yield
        seen.extend(str(w.message) for w in caught)
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
        unique = list(dict.fromkeys(message.strip() for message in seen if message.strip()))
        warnings.extend(f"PDF: {message}" for message in unique[:limit])
        if len(unique) > limit:
            warnings.append(f"PDF: {len(unique) - limit} more problems of the file")


_TextLoader = Callable[[Path, str], tuple[list[Document], list[str]]]
_TEXT_LOADERS: dict[str, _TextLoader] = {
    ".txt": _load_txt,
    ".md": _load_markdown,
    ".markdown": _load_markdown,
    ".html": _load_html,
    ".htm": _load_html,
    ".jsonl": _load_jsonl,
}


def _read_bytes(path: Path) -> bytes:
    if path.is_dir():
        raise UnreadableFileError(path, "is a folder, not a file")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UnreadableFileError(path, "no such file or folder") from None
    except PermissionError:
        raise UnreadableFileError(path, "permission denied") from None
    except OSError as exc:
        raise UnreadableFileError(path, f"cannot be read ({exc.strerror or exc})") from exc


class FileLoader(BaseLoader):
    """The documents of one file; what was skipped in it (bad JSONL lines, unreadable front
    matter, unknown languages) is collected in :attr:`warnings` while loading, for the caller to
    report.

    A file with an unsupported suffix is read as plain text if it is UTF-8 text; otherwise it is
    refused as binary, so ``babelrag ingest notes.rst`` works and ``report.docx`` fails clearly.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.warnings: list[str] = []

    def lazy_load(self) -> Iterator[Document]:
        self.warnings = []
        documents, warnings = _load(self.path)
        self.warnings.extend(warnings)
        yield from documents


def _load(path: Path) -> tuple[list[Document], list[str]]:
    data = _read_bytes(path)
    if not data.strip():
        raise UnreadableFileError(path, "empty file")
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return _load_pdf(path, data)
    if suffix not in SUPPORTED_SUFFIXES and not is_text(data):
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise UnreadableFileError(path, f"binary file, not text (supported formats: {supported})")
    if suffix in _HTML_SUFFIXES:
        from babelrag.stores.html_text import declared_charset

        source = decode_text(data, path, declared_charset=declared_charset(data))
    else:
        source = decode_text(data, path)
    if not normalise_text(source):  # whitespace, stray byte-order marks, control characters
        raise UnreadableFileError(path, "empty file")
    return _TEXT_LOADERS.get(suffix, _load_txt)(path, source)


def iter_source_files(
    paths: Iterable[Path], *, on_error: Callable[[Path, str], None] | None = None
) -> Iterator[Path]:
    """Files to ingest, each once: given files as they are, folders walked in sorted order.

    Hidden entries and unsupported suffixes inside folders are skipped. Missing paths are checked
    before anything is yielded, so a typo in the last argument fails before ingestion starts. A
    folder that cannot be listed raises, or with ``on_error`` is reported to it and skipped, so the
    files after it are still found.
    """
    roots = [Path(path) for path in paths]
    for root in roots:
        if not root.exists():
            raise UnreadableFileError(root, "no such file or folder")
    return _unique(
        path for root in roots for path in (_walk(root, set(), on_error) if root.is_dir() else (root,))
    )


def _unique(paths: Iterator[Path]) -> Iterator[Path]:
    seen: set[Path] = set()
    for path in paths:
        if (key := path.resolve()) not in seen:
            seen.add(key)
            yield path


def _walk(folder: Path, visited: set[Path], on_error: Callable[[Path, str], None] | None) -> Iterator[Path]:
    if (real := folder.resolve()) in visited:  # a symlink back up the tree
        return
    visited.add(real)
    try:
        entries = sorted(folder.iterdir(), key=lambda entry: entry.name)
    except OSError as exc:
        reason = f"cannot list folder ({exc.strerror or exc})"
        if on_error is None:
            raise UnreadableFileError(folder, reason) from exc
        on_error(folder, reason)
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            yield from _walk(entry, visited, on_error)
        elif entry.is_file() and entry.suffix.lower() in SUPPORTED_SUFFIXES:
            yield entry
