"""Markdown to readable text: markup gone, words, code and list structure kept.

Parsed with markdown-it (CommonMark) rather than regular expressions, so emphasis, escapes,
reference links and code spans come out right; the YAML front matter is read separately.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from babelrag.stores.cjk import is_wide
from babelrag.stores.html_text import html_to_text
from babelrag.stores.safe_yaml import safe_load
from babelrag.stores.text_decoding import collapse_whitespace

_SOFT_BREAK = "\x00"  # NUL cannot occur in decoded text, normalise_text drops it
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*$\n?", re.DOTALL | re.MULTILINE)


@dataclass(frozen=True)
class MarkdownText:
    text: str
    title: str | None
    front_matter: Mapping[str, object] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    headings: tuple[tuple[int, str], ...] = ()  # (level, text) in order, as written in ``text``


def split_front_matter(source: str) -> tuple[dict[str, object], str, list[str]]:
    """``(fields, body, warnings)``; a block that is not a YAML mapping is left in the body."""
    match = _FRONT_MATTER.match(source)
    if not match:
        return {}, source, []
    try:
        fields = safe_load(match.group(1))
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or type(exc).__name__
        return {}, source, [f"front matter is not valid YAML ({problem}); kept as text"]
    if fields is None:
        fields = {}
    if not isinstance(fields, dict):
        return {}, source, []
    return {str(key): value for key, value in fields.items()}, source[match.end() :], []


def _inline_text(token: Token) -> str:
    """Text of an inline run; a soft line break is a space, or nothing between CJK characters."""
    parts: list[str] = []
    for child in token.children or ():
        if child.type in ("text", "code_inline", "image"):
            parts.append(child.content)
        elif child.type == "hardbreak":
            parts.append("\n")
        elif child.type == "softbreak":
            parts.append(_SOFT_BREAK)
    text = "".join(parts)
    pieces = text.split(_SOFT_BREAK)
    joined = pieces[0]
    for piece in pieces[1:]:
        between_cjk = bool(joined and piece) and is_wide(joined[-1]) and is_wide(piece[0])
        joined += piece if between_cjk else " " + piece
    return joined.strip()


class _Blocks:
    """Blocks joined by blank lines, except consecutive items of one list or table (one per line)."""

    def __init__(self) -> None:
        self.blocks: list[tuple[str, int | None]] = []

    def add(self, text: str, group: int | None = None) -> None:
        if text.strip():
            self.blocks.append((text, group))

    def render(self) -> str:
        parts: list[str] = []
        previous: int | None = None
        for index, (text, group) in enumerate(self.blocks):
            if index:
                parts.append("\n" if group is not None and group == previous else "\n\n")
            parts.append(text)
            previous = group
        return "".join(parts)


def _render(tokens: Sequence[Token]) -> tuple[str, str | None, list[tuple[int, str]]]:
    out = _Blocks()
    title: str | None = None
    headings: list[tuple[int, str]] = []
    lists: list[int | None] = []  # None for a bullet list, else the next number
    group: int | None = None  # the outermost list or table being written
    groups = 0
    prefix = ""  # marker for the first paragraph of the current list item
    row: list[str] | None = None
    for index, token in enumerate(tokens):
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open", "table_open"):
            if not lists and row is None and group is None:
                groups += 1
                group = groups
            if kind != "table_open":
                lists.append(int(token.attrGet("start") or 1) if kind == "ordered_list_open" else None)
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
            group = group if lists else None
        elif kind == "table_close":
            group = group if lists else None
        elif kind == "list_item_open":
            number = lists[-1]
            prefix = "  " * (len(lists) - 1) + ("- " if number is None else f"{number}. ")
            if number is not None:
                lists[-1] = number + 1
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close" and row is not None:
            out.add(" | ".join(row), group)
            row = None
        elif kind == "inline":
            text = _inline_text(token)
            if row is not None:
                row.append(" ".join(text.split()))
            elif lists:
                out.add((prefix or "  " * len(lists)) + text, group)
                prefix = ""
            else:
                out.add(text)
            if index and tokens[index - 1].type == "heading_open" and not lists and row is None:
                headings.append((int(tokens[index - 1].tag[1:] or 1), text))
                if title is None:
                    title = collapse_whitespace(text) or None
        elif kind in ("fence", "code_block"):
            out.add(token.content.rstrip("\n"), group if lists else None)
        elif kind == "html_block":
            out.add(html_to_text(token.content).text, group if lists else None)
    return out.render(), title, headings


def markdown_to_text(source: str) -> MarkdownText:
    """Plain text of a Markdown document, its first heading, and its front matter fields."""
    fields, body, warnings = split_front_matter(source.replace("\r\n", "\n").replace("\r", "\n"))
    parser = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    text, title, headings = _render(parser.parse(body))
    return MarkdownText(
        text=text, title=title, front_matter=fields, warnings=tuple(warnings), headings=tuple(headings)
    )
