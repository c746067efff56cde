"""Sections of the Debian Reference HTML (DocBook XSL output), keyed by their anchor id.

Every translation is generated from the same DocBook source, so a section carries the same
``<a id="_foo"/>`` in its heading in every language: that id is what aligns a German section
with its English original. A section's *own* text excludes its subsections, so that a query
aimed at "1.2" is not also answered by the text of "1.2.3".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from babelrag.stores.text_decoding import collapse_whitespace

# Containers that form a section: DocBook's chapter, preface, appendix and (nested) section.
_SECTION_CLASSES = frozenset({"section", "chapter", "preface", "appendix"})
# Navigation and the repeated heading block, never part of a section's own text.
_SKIPPED_CLASSES = frozenset({"titlepage", "toc", "navheader", "navfooter", "list-of-tables"})
# Admonitions, tables and lists: their paragraphs are text but no "opening" of the section.
_ASIDE_CLASSES = frozenset({"note", "tip", "caution", "warning", "important", "table", "itemizedlist"})
_ASIDE_CLASSES |= frozenset({"orderedlist", "variablelist", "footnotes"})
_BLOCK_TAGS = frozenset({"p", "pre", "li", "tr", "dt", "dd", "div", "table", "br", "h1", "h2", "h3"})
_BLOCK_TAGS |= frozenset({"h4", "h5", "h6", "blockquote", "ul", "ol", "dl"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_VOID = frozenset({"br", "img", "hr", "meta", "link", "col", "input"})

# "1.2.3. ", "A.1. ", "3. " before section titles; "Chapter 1. ", "Anhang A. ", "第 1 章 ",
# "第1章 ", "付録A " before chapter and appendix titles.
_SECTION_NUMBER = re.compile(r"^(?:\d+|[A-Z])(?:\.\d+)*\.\s*")
_CHAPTER_NUMBER = re.compile(r"^(?:\w+\s+(?:\d+|[A-Z])\.\s*|第\s*\d+\s*章\s*|付録\s*[A-Z]\s*)")


@dataclass
class Section:
    """One section of one language's manual, with the text that is its own."""

    id: str
    title: str
    level: int  # 1 for chapters, preface and appendix; 2.. for nested sections
    file: str
    blocks: list[str] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)  # body paragraphs, outside admonitions

    @property
    def text(self) -> str:
        return "\n".join(self.blocks)


def strip_numbering(title: str, level: int) -> str:
    """The title without its section or chapter number, which differs in form across languages."""
    title = collapse_whitespace(title)
    pattern = _CHAPTER_NUMBER if level == 1 else _SECTION_NUMBER
    stripped = pattern.sub("", title, count=1).strip()
    return stripped or title


@dataclass
class _Open:
    tag: str
    is_section: bool = False
    skipped: bool = False
    aside: bool = False


class _SectionParser(HTMLParser):
    """Streams one page; text goes to the innermost open section, unless inside navigation."""

    def __init__(self, file: str) -> None:
        super().__init__(convert_charrefs=True)
        self.file = file
        self.sections: list[Section] = []
        self._stack: list[_Open] = []
        self._open_sections: list[tuple[Section, list[str]]] = []  # section, raw title parts
        self._heading: list[str] | None = None
        self._inline: list[str] = []
        self._skip = 0
        self._aside = 0
        self._paragraph = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        classes = set((values.get("class") or "").split())
        if tag in _BLOCK_TAGS:
            self._flush()
        if tag in _VOID:
            return
        item = _Open(tag)
        if tag == "div" and classes & _SECTION_CLASSES:
            item.is_section = True
            section = Section(id="", title="", level=len(self._open_sections) + 1, file=self.file)
            self._open_sections.append((section, []))
            self.sections.append(section)  # in document order; those without an anchor are dropped later
        if tag == "div" and classes & _SKIPPED_CLASSES:
            item.skipped = True
            self._skip += 1
        if tag == "div" and classes & _ASIDE_CLASSES:
            item.aside = True
            self._aside += 1
        if tag in _HEADINGS and "title" in classes and self._needs_heading():
            self._heading = self._open_sections[-1][1]
        if tag == "a" and self._heading is not None and values.get("id") and self._open_sections:
            section = self._open_sections[-1][0]
            section.id = section.id or (values["id"] or "")
        if tag == "p":
            self._paragraph += 1
        self._stack.append(item)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self._flush()
        if tag in _VOID or not any(item.tag == tag for item in self._stack):
            return
        while self._stack:  # XHTML is well formed; popping to the match also survives stray tags
            item = self._stack.pop()
            self._close(item)
            if item.tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading.append(data)
        elif self._skip == 0 and self._open_sections:
            self._inline.append(data)

    def close(self) -> None:
        super().close()
        while self._stack:
            self._close(self._stack.pop())

    def _needs_heading(self) -> bool:
        return bool(self._open_sections) and not self._open_sections[-1][0].title and self._heading is None

    def _close(self, item: _Open) -> None:
        if item.tag in _HEADINGS and self._heading is not None:
            section, parts = self._open_sections[-1]
            section.title = strip_numbering("".join(parts), section.level)
            self._heading = None
        if item.tag == "p":
            self._paragraph -= 1
        if item.skipped:
            self._skip -= 1
        if item.aside:
            self._aside -= 1
        if item.is_section:
            self._flush()
            self._open_sections.pop()

    def _flush(self) -> None:
        text = collapse_whitespace("".join(self._inline))
        self._inline.clear()
        if not text or not self._open_sections:
            return
        section = self._open_sections[-1][0]
        section.blocks.append(text)
        if self._paragraph and not self._aside:
            section.paragraphs.append(text)


def parse_sections(markup: str, file: str = "") -> list[Section]:
    """The sections of one page that have an anchor id, in document order."""
    parser = _SectionParser(file)
    parser.feed(markup)
    parser.close()
    return [section for section in parser.sections if section.id]


def _reading_order(path: Path) -> tuple[int, str]:
    """Preface, chapters, appendices, then anything else (the index holds no sections)."""
    rank = next((i for i, prefix in enumerate(("pr", "ch", "ap")) if path.name.startswith(prefix)), 3)
    return rank, path.name


def parse_manual(folder: Path, suffix: str) -> dict[str, Section]:
    """All sections of one language's manual (``*.{suffix}.html`` in ``folder``), by anchor id."""
    sections: dict[str, Section] = {}
    for path in sorted(folder.glob(f"*.{suffix}.html"), key=_reading_order):
        for section in parse_sections(path.read_text(encoding="utf-8"), path.name):
            sections.setdefault(section.id, section)
    return sections
