"""A chunk's context: the title of its document and the headings above it, embedded with it.

A chunk after the first of a long document rarely names what it is about; its section does.
Embedding (and BM25-indexing) "title > heading > subheading" with the chunk puts the answer to a
title-like query back in reach: on Debian Reference titles the right section's chunks enter the
top 5 far more often (numbers in the README). The passage users and the generator see stays the
chunk alone; the header is kept beside it in the chunk's ``context`` metadata.

Each distinct header of a document is also embedded on its own, as a *heading entry* beside the
chunks (metadata ``heading_of`` = the index of the first chunk under it, no ``chunk``): a short
query that names a section matches its heading far better than any chunk of it (Debian Reference
titles, e5-small: R@5 .87-.95 -> .97-.99, README "How well it works"), and retrieval lets a heading
stand for that chunk at a small discount, so a long query still goes by the text.
"""

from __future__ import annotations

from collections.abc import Sequence

from babelrag.stores.text_decoding import collapse_whitespace

#: Bump when the rules that build a header change: it is part of every chunk's fingerprint.
CONTEXT_VERSION = 2  # 2: heading entries
MAX_CONTEXT_CHARS = 200
_SEPARATOR = " > "

#: (character offset in the document text, level 1-6, heading text)
Heading = tuple[int, int, str]


def contextual_text(context: str | None, text: str) -> str:
    """What is embedded and indexed for a chunk: its header, a blank line, the chunk."""
    return f"{context}\n\n{text}" if context else text


def locate_headings(text: str, headings: Sequence[tuple[int, str]]) -> list[Heading]:
    """Find the (level, heading) pairs a converter listed, in order, as lines of ``text``.

    Converters write each heading as a block of its own, so it is searched for as a whole line
    from where the previous one was found; one that cannot be found is left out.
    """
    found: list[Heading] = []
    cursor = 0
    for level, heading in headings:
        heading = collapse_whitespace(heading)
        if not heading:
            continue
        at = cursor
        while (at := text.find(heading, at)) >= 0:
            starts_line = at == 0 or text[at - 1] == "\n"
            end = at + len(heading)
            ends_line = end == len(text) or text[end] == "\n"
            if starts_line and ends_line:
                found.append((at, level, heading))
                cursor = end
                break
            at += 1
    return found


def chunk_context(title: str | None, headings: Sequence[Heading], offset: int, text: str = "") -> str:
    """The header of a chunk starting at ``offset`` of ``text``: the title, then the headings open
    where its body starts (headings the chunk opens with count as above it).

    A heading that only repeats the title (the usual first ``# Title``) is not said twice.
    """
    for at, _level, heading in headings if text else ():
        if at < offset:
            continue
        if text[offset:at].strip():
            break
        offset = at + len(heading)
    path: list[tuple[int, str]] = []
    for at, level, heading in headings:
        if at > offset:
            break
        path = [(lv, h) for lv, h in path if lv < level] + [(level, heading)]
    parts = [collapse_whitespace(title or "")] if title else []
    for _level, heading in path:
        if not parts or heading.casefold() != parts[-1].casefold():
            parts.append(heading)
    context = _SEPARATOR.join(p for p in parts if p)
    if len(context) > MAX_CONTEXT_CHARS:
        context = context[: MAX_CONTEXT_CHARS - 1].rstrip() + "…"
    return context


def chunk_offsets(text: str, chunks: Sequence[str]) -> list[int]:
    """Where each chunk starts in ``text`` (chunks are in order and may overlap)."""
    offsets: list[int] = []
    cursor = 0
    for chunk in chunks:
        probe = chunk.strip()[:80]
        at = text.find(probe, cursor) if probe else -1
        if at < 0:
            at = cursor
        offsets.append(at)
        cursor = at + 1
    return offsets


def distinct_headers(contexts: Sequence[str]) -> list[tuple[str, int]]:
    """Each non-empty header once, with the index of the first chunk that carries it."""
    first: dict[str, int] = {}
    for index, context in enumerate(contexts):
        if context and context not in first:
            first[context] = index
    return list(first.items())
