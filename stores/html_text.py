"""HTML to the paragraphs a reader sees: no scripts, styles, navigation or footers.

Block elements become paragraphs (list items and table rows single lines) so that chunking
downstream can split on blank lines; whitespace inside a block is collapsed, ``<pre>`` is kept.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning
from bs4.element import CData, NavigableString, PreformattedString, Tag

from babelrag.stores.text_decoding import collapse_whitespace

_DROPPED = frozenset(
    {"script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "head", "nav", "footer"}
    | {"button", "select", "rp", "rt"}
)
_LINES = frozenset({"li", "tr", "dt", "dd"})
_BLOCKS = _LINES | frozenset(
    {"address", "article", "aside", "blockquote", "body", "caption", "details", "dialog", "div", "dl"}
    | {"fieldset", "figcaption", "figure", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr"}
    | {"html", "main", "ol", "p", "section", "summary", "table", "ul"}
)
_CONTAINERS = frozenset({"ul", "ol", "dl", "table"})
_SPACES = re.compile(r"\s+")
_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class HtmlText:
    text: str
    title: str | None
    lang: str | None
    headings: tuple[tuple[int, str], ...] = ()  # (level, text) of <h1>-<h6>, in document order


def declared_charset(data: bytes) -> str | None:
    """The charset a page declares in ``<meta charset>`` or ``http-equiv``; browsers look in the first KiB."""
    match = _CHARSET.search(data[:4096])
    return match.group(1).decode("ascii") if match else None


class _Paragraphs:
    """Inline text gathered into blocks; blocks of one list or table (same group) joined by single lines."""

    def __init__(self) -> None:
        self._blocks: list[tuple[str, int | None]] = []
        self._inline: list[str] = []

    def add(self, text: str) -> None:
        self._inline.append(text)

    def has_inline(self) -> bool:
        return any(part.strip() for part in self._inline)

    def end_block(self, group: int | None) -> None:
        lines = (" ".join(part.split()) for part in "".join(self._inline).split("\n"))
        self._inline.clear()
        text = "\n".join(part for part in lines if part)
        if text:
            self._blocks.append((text, group))

    def add_verbatim(self, text: str) -> None:
        self.end_block(None)
        if text.strip():
            self._blocks.append((text.strip("\n"), None))

    def render(self) -> str:
        parts: list[str] = []
        previous: int | None = None
        for index, (text, group) in enumerate(self._blocks):
            if index:
                parts.append("\n" if group is not None and group == previous else "\n\n")
            parts.append(text)
            previous = group
        return "".join(parts)


@dataclass(frozen=True)
class _Open:
    """An open block element: the list or table it belongs to, and whether it is one line of it."""

    group: int | None
    is_line: bool

    @property
    def line_group(self) -> int | None:
        return self.group if self.is_line else None


class _End:
    """Marks where a block element closes, so the walk needs no recursion (deep pages are common)."""


_END = _End()


def _list_marker(item: Tag) -> str:
    parent = item.parent
    if isinstance(parent, Tag) and parent.name == "ol":
        return f"{len(item.find_previous_siblings('li')) + 1}. "
    return "- "


def _collect(root: Tag) -> str:
    out = _Paragraphs()
    open_blocks = [_Open(group=None, is_line=False)]
    groups = 0
    stack: list[object] = [root]
    while stack:
        node = stack.pop()
        if node is _END:
            out.end_block(open_blocks.pop().line_group)
        elif isinstance(node, NavigableString):
            if not isinstance(node, PreformattedString) or isinstance(node, CData):
                out.add(_SPACES.sub(" ", node))  # source line breaks are spaces; only <br> breaks a line
        elif isinstance(node, Tag) and node.name not in _DROPPED and not node.has_attr("hidden"):
            if node.name == "br":
                out.add("\n")
            elif node.name == "pre":
                out.add_verbatim(node.get_text())
            else:
                if node.name in ("td", "th") and out.has_inline():
                    out.add(" | ")
                if node.name in _BLOCKS:
                    current = open_blocks[-1]
                    out.end_block(current.line_group)
                    group = current.group
                    if node.name in _CONTAINERS and group is None:
                        groups += 1
                        group = groups
                    open_blocks.append(_Open(group=group, is_line=node.name in _LINES))
                    stack.append(_END)
                    if node.name == "li":
                        out.add(_list_marker(node))
                stack.extend(reversed(node.contents))
    out.end_block(None)
    return out.render()


def html_to_text(markup: str) -> HtmlText:
    """Readable text, title (``<title>``, else first ``<h1>``) and the declared ``<html lang>``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        soup = BeautifulSoup(markup, "html.parser")
    title = None
    for candidate in (soup.title, soup.find("h1")):
        if candidate is not None and (title := collapse_whitespace(candidate.get_text())):
            break
    html = soup.find("html")
    lang = None
    if isinstance(html, Tag):
        value = html.get("lang") or html.get("xml:lang")
        lang = value.strip() if isinstance(value, str) and value.strip() else None
    headings = tuple(
        (int(h.name[1]), text)
        for h in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6"])
        if not h.find_parent(_DROPPED) and (text := collapse_whitespace(h.get_text(" ")))
    )
    return HtmlText(text=_collect(soup), title=title or None, lang=lang, headings=headings)
