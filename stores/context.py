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

A section of two chunks or more (a run of chunks under one header) is also embedded whole, as a
*section entry* (metadata ``section_of`` = its first chunk, ``section_chunks`` = how many; the
text up to ``MAX_SECTION_CHARS``, the model reading what fits its limit), and its chunks name it
in their ``section`` metadata. Retrieval adds a share of the section's cosine to each chunk's: a
query about a section as a whole (its opening paraphrased, its subject) finds the chunk of the
right section, which a 200-token chunk alone often misses (Debian Reference, all judged queries,
int8 e5-small, six languages: openings +.002 to +.022 MRR@10, titles +.001 to +.014; README "How
well it works").
"""

from __future__ import annotations

from collections.abc import Sequence

from babelrag.stores.text_decoding import collapse_whitespace

#: Bump when the rules that build a header change: it is part of every chunk's fingerprint.
CONTEXT_VERSION = 3  # 2: heading entries; 3: they name the chunk they head (metadata ``heads``)
MAX_CONTEXT_CHARS = 200
#: A section entry's stored text at most (the embedder reads up to its own limit of tokens: ~2,000
#: characters of English for e5's 512, fewer of CJK).
MAX_SECTION_CHARS = 4000
#: How many of a section's first chunks its entry names (``section_ids``) and a search that finds
#: the entry brings in: about what its vector read; a section of thousands of chunks (a long
#: document without headings) must not make one query read them all.
MAX_SECTION_IDS = 8
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


def section_runs(contexts: Sequence[str]) -> list[tuple[str, int, int]]:
    """Runs of two or more consecutive chunks under one non-empty header: (header, first, end)."""
    runs: list[tuple[str, int, int]] = []
    start = 0
    for index in range(1, len(contexts) + 1):
        if index == len(contexts) or contexts[index] != contexts[start]:
            if contexts[start] and index - start >= 2:
                runs.append((contexts[start], start, index))
            start = index
    return runs


def section_text(text: str, offsets: Sequence[int], first: int, end: int) -> str:
    """The text of chunks ``first`` to ``end`` (exclusive) of a document, overlaps once, capped."""
    stop = offsets[end] if end < len(offsets) else len(text)
    body = text[offsets[first] : max(stop, offsets[first])].strip()
    return body[:MAX_SECTION_CHARS].rstrip()


def distinct_headers(contexts: Sequence[str]) -> list[tuple[str, int]]:
    """Each non-empty header once, with the index of the first chunk that carries it."""
    first: dict[str, int] = {}
    for index, context in enumerate(contexts):
        if context and context not in first:
            first[context] = index
    return list(first.items())
