"""Chunks of document text sized in tokens of the embedding model, ending where sentences end.

A chunk that stops mid-sentence embeds worse and quotes badly, so whole sentences are the unit, in
CJK and Latin scripts alike; only a sentence longer than a whole chunk is cut, at clause punctuation
first. ``count_tokens`` may be a real tokenizer, so each sentence is counted once and a chunk's size
is the sum of its sentences', checked once when the chunk is done.

:class:`Chunker` is a LangChain ``TextSplitter``, so ``split_documents`` and ``create_documents``
work on ``Document`` objects; its output is part of every chunk id, so it must not change silently
(bump ``CHUNKER_VERSION`` in ``ingest.py`` if it has to).
"""

from __future__ import annotations

import re
import unicodedata
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

from langchain_text_splitters import TextSplitter

from babelrag.stores.cjk import CJK

_CLOSERS = "\"'”’»)\\]}」』）】〕》〉"
# Latin: a run of . ! ? … then whitespace or the end, so 3.5, v1.2.3, config.toml and URLs stay whole.
_LATIN_END = re.compile(rf"[.!?…]+[{_CLOSERS}]*(?=\s|$)")
# CJK needs no space; ASCII . ! ? between two CJK characters count as well.
_CJK_END = re.compile(rf"(?:[。！？；｡]+|(?<=[{CJK}])[.!?…⋯]+(?=[{CJK}{_CLOSERS}]))[{_CLOSERS}]*")
_PARAGRAPH = re.compile(r"\n[ \t]*\n")
# A list item, heading or table row (as html_text writes them) is a sentence of its own, full stop or not.
_ITEM = (
    r"[ \t]*(?:(?:[-*+•◦▪‣]|\d{1,3}[.)]|[a-z]\)|\(\d{1,3}\)|#{1,6})[ \t]"
    r"|\d{1,3}、|[一二三四五六七八九十]+、|（[一二三四五六七八九十\d]+）|\||[^\n]*?\s\|\s)"
)
_BEFORE_ITEM = re.compile(rf"\n(?={_ITEM})")
_AFTER_ITEM = re.compile(rf"^(?>{_ITEM})[^\n]*+(?=\n)", re.MULTILINE)  # atomic: linear on a long line
_CLAUSE_END = re.compile(rf"[，、；：]+[{_CLOSERS}]*\s*|[,;:]\s+")
_INITIALS = re.compile(r"(?:[A-Za-zÀ-ž]\.)*[A-Za-zÀ-ž]")  # J. R. R. Tolkien, z. B., e.g., U.S.
# fmt: off
_ABBREVIATIONS = frozenset({
    "mr", "mrs", "dr", "prof", "st", "sr", "jr", "vs", "cf", "ca", "approx", "resp", "inc", "ltd", "co",
    "corp", "dept", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "bzw", "ggf", "evtl", "vgl", "sog", "inkl", "zzgl", "bspw", "hr", "fr", "str", "tel", "nr", "mio",
    "mrd", "mme", "mlle", "env", "sra", "srta", "ud", "uds", "p.ex", "p.ej", "ph.d",
})
# Abbreviations only before a number: "No. 5", "Abs. 2"; "No. I disagree." ends a sentence.
_BEFORE_NUMBER = frozenset({"no", "nos", "art", "abs", "fig", "vol", "p", "pp", "s", "ch", "sec", "bd"})
# German ordinals before these stay in the sentence: "am 3. Oktober", "im 19. Jahrhundert".
_AFTER_ORDINAL = frozenset({
    "januar", "jänner", "februar", "märz", "april", "mai", "juni", "juli", "august", "september",
    "oktober", "november", "dezember", "jahrhundert", "jahrtausend", "auflage", "klasse", "stock", "mal",
})
# fmt: on


def split_sentences(text: str) -> list[str]:
    """Sentences in order; whitespace stays with the sentence before it, so ``"".join`` gives back
    the text exactly and offsets survive."""
    ends = {m.end() for m in _LATIN_END.finditer(text) if not _continues(text, m)}
    ends.update(m.end() for m in _CJK_END.finditer(text))
    ends.update(m.start() for m in _PARAGRAPH.finditer(text))
    ends.update(m.start() for m in _BEFORE_ITEM.finditer(text))
    ends.update(m.end() for m in _AFTER_ITEM.finditer(text))
    sentences: list[str] = []
    start = 0
    for end in sorted(ends):
        if end <= start or not text[start:end].strip():
            continue
        while end < len(text) and text[end].isspace():
            end += 1
        sentences.append(text[start:end])
        start = end
    if start < len(text):
        sentences.append(text[start:])
    return sentences


def _continues(text: str, match: re.Match[str]) -> bool:
    """Whether a full stop ends an abbreviation, initial or ordinal rather than the sentence."""
    mark = match.group().rstrip(_CLOSERS)
    if mark.strip(".…"):
        return False  # ! and ? always end a sentence
    following = text[match.end() : match.end() + 40].lstrip()
    if following[:1].islower():
        return True  # "etc. and", "Wait... what"
    if mark != ".":
        return False
    before = text[max(0, match.start() - 40) : match.start()]
    word = before.rsplit(None, 1)[-1].lstrip("([{\"'„“‘«¿¡") if before[-1:].strip() else ""
    line = before.rsplit("\n", 1)[-1]
    if word.isdigit() and line.strip() == word and ("\n" in before or match.start() < 40):
        return True  # "1. Step" numbers a list item
    key = word.casefold()
    if key in _ABBREVIATIONS or _INITIALS.fullmatch(word):
        return True
    if key in _BEFORE_NUMBER:
        return following[:1].isdigit()
    next_word = following.split(None, 1)[0].casefold().rstrip(".,;:") if following else ""
    return word.isdigit() and len(word) <= 3 and next_word in _AFTER_ORDINAL


@dataclass(frozen=True, slots=True)
class _Unit:
    text: str  # with its trailing whitespace, so that joined units are a slice of the document
    tokens: int  # of the stripped text, less the tokens every call adds (e.g. [CLS] and [SEP])
    ends_paragraph: bool


class Chunker(TextSplitter):
    """Greedily packs whole sentences into chunks of at most ``max_tokens`` tokens, each chunk
    starting with the last sentences of the one before (at most ``overlap_tokens``) for context.

    ``max_tokens``, ``overlap_tokens`` and ``count_tokens`` are also TextSplitter's ``chunk_size``,
    ``chunk_overlap`` and ``length_function``.
    """

    def __init__(
        self, count_tokens: Callable[[str], int], *, max_tokens: int = 256, overlap_tokens: int = 32
    ) -> None:
        if max_tokens < 16:
            raise ValueError(f"max_tokens must be at least 16, got {max_tokens}")
        if not 0 <= overlap_tokens < max_tokens / 2:
            raise ValueError(
                f"overlap_tokens must be at least 0 and less than half of max_tokens ({max_tokens}), "
                f"got {overlap_tokens}"
            )
        super().__init__(chunk_size=max_tokens, chunk_overlap=overlap_tokens, length_function=count_tokens)
        self.count_tokens = count_tokens
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens

    def split_text(self, text: str, *, advance: Callable[[int], None] | None = None) -> list[str]:
        """Chunk texts, stripped, in document order; ``[]`` for text without content.

        ``advance`` is told how many characters of ``text`` were measured, sentence by sentence
        (progress for a long document)."""
        cache: dict[str, int] = {}

        def count(piece: str) -> int:
            piece = piece.strip()
            if piece not in cache:
                cache[piece] = self.count_tokens(piece)
            return cache[piece]

        sentences = [sentence for sentence in split_sentences(text) if sentence.strip()]
        if not sentences:
            return []
        overhead = count("")
        units: list[_Unit] = []
        for sentence in sentences:
            units.extend(self._units(sentence, count, overhead))
            if advance is not None:
                advance(len(sentence))
        return self._pack(units, count, overhead)

    def _units(self, sentence: str, count: Callable[[str], int], overhead: int) -> list[_Unit]:
        """One unit per sentence; a sentence over ``max_tokens`` is cut at clauses, then characters.

        A "sentence" far longer than any chunk (a 50 MB file on one line, without a full stop) is
        first cut into windows of ``_WINDOW_CHUNKS * max_tokens`` characters, so the tokenizer
        never sees more than a window at once: time stays linear and memory bounded."""
        paragraph = bool(_PARAGRAPH.search(sentence[len(sentence.rstrip()) :]))
        window = self.max_tokens * _WINDOW_CHUNKS
        if len(sentence) > 2 * window:
            pieces = _windows(sentence, window)
            units = [u for piece in pieces[:-1] for u in self._units(piece, count, overhead)]
            return [*units, *self._units(pieces[-1], count, overhead)]
        tokens = count(sentence)
        if tokens <= self.max_tokens:
            return [_Unit(sentence, tokens - overhead, paragraph)]
        pieces: list[tuple[str, int]] = []
        for clause in _cut(sentence, [m.end() for m in _CLAUSE_END.finditer(sentence)]):
            if (tokens := count(clause)) <= self.max_tokens:
                pieces.append((clause, tokens))
            else:
                pieces.extend(self._split_chars(clause, tokens, count))
        last = len(pieces) - 1
        return [_Unit(p, t - overhead, paragraph and i == last) for i, (p, t) in enumerate(pieces)]

    def _split_chars(self, text: str, tokens: int, count: Callable[[str], int]) -> list[tuple[str, int]]:
        """Cut into as few pieces as fit, of even size (no stub at the end). Each cut is the longest
        prefix within the limit, found by galloping from the text's own token density and then
        bisecting, so no call sees much more text than fits; cuts fall between graphemes, and after
        whitespace where there is some near the end."""
        limit = -(-tokens // -(-tokens // self.max_tokens))  # ceil(tokens / ceil(tokens / max_tokens))
        guess = max(1, int(1.2 * limit * len(text) / max(tokens, 1)))
        pieces: list[tuple[str, int]] = []
        while text.strip():
            fits, fit_tokens, over = 0, 0, min(len(text), guess)
            while (n := count(text[:over])) <= limit:
                fits, fit_tokens = over, n
                if over == len(text):
                    return [*pieces, (text, n)]
                over = min(len(text), 2 * over)
            while over - fits > 1:
                middle = (fits + over) // 2
                if (n := count(text[:middle])) <= limit:
                    fits, fit_tokens = middle, n
                else:
                    over = middle
            cut = fits
            while cut > 1 and not _grapheme_boundary(text, cut):
                cut -= 1
            space = next((i for i in range(cut, cut * 3 // 4, -1) if text[i - 1].isspace()), None)
            cut = max(1, space or cut)
            while cut < len(text) and not _grapheme_boundary(text, cut):
                cut += 1  # a lone grapheme over max_tokens: no real tokenizer does this
            pieces.append((text[:cut], fit_tokens if cut == fits else count(text[:cut])))
            text = text[cut:]
        return pieces

    def _pack(self, units: list[_Unit], count: Callable[[str], int], overhead: int) -> list[str]:
        chunks: list[str] = []
        current: list[_Unit] = []
        fresh = 0  # units of `current` not carried over from the previous chunk
        pending = deque(units)
        while pending:
            unit = pending.popleft()
            if fresh and self._size(current, overhead) + unit.tokens > self.max_tokens:
                current, fresh = self._emit(current, fresh, chunks, pending, count), 0
            while current and not fresh and self._size(current, overhead) + unit.tokens > self.max_tokens:
                current.pop(0)  # the overlap gives way to new text
            current.append(unit)
            fresh += 1
            at_paragraph = unit.ends_paragraph and self._size(current, overhead) >= self.max_tokens / 2
            if not pending or at_paragraph:
                current, fresh = self._emit(current, fresh, chunks, pending, count), 0
        return chunks

    @staticmethod
    def _size(units: list[_Unit], overhead: int) -> int:
        return overhead + sum(unit.tokens for unit in units)

    def _emit(
        self,
        current: list[_Unit],
        fresh: int,
        chunks: list[str],
        pending: deque[_Unit],
        count: Callable[[str], int],
    ) -> list[_Unit]:
        """Append the chunk and return the overlap that starts the next one. The sum of sentence
        counts can be off where a tokenizer merges across sentences, so the chunk is measured once."""
        while count(text := "".join(u.text for u in current)) > self.max_tokens and len(current) > 1:
            if fresh > 1:
                pending.appendleft(current.pop())
                fresh -= 1
            else:
                current.pop(0)
        chunks.append(text.strip())
        overlap: list[_Unit] = []
        budget = self.overlap_tokens
        for unit in reversed(current[1:]):  # never the whole chunk again
            if unit.tokens > budget:
                break
            overlap.insert(0, unit)
            budget -= unit.tokens
        return overlap


#: A window is this many times ``max_tokens`` characters (a token is at least one character): about
#: 16 chunks of Latin text, whose even cuts leave at most one short chunk per window.
_WINDOW_CHUNKS = 64


def _windows(text: str, size: int) -> list[str]:
    """``text`` in consecutive pieces of about ``size`` characters, cut after whitespace where there
    is some in the last quarter, and between graphemes."""
    pieces: list[str] = []
    start = 0
    while len(text) - start > 2 * size:
        end = start + size
        space = next((i for i in range(end, end - size // 4, -1) if text[i - 1].isspace()), None)
        end = space or end
        while not _grapheme_boundary(text, end):
            end += 1
        pieces.append(text[start:end])
        start = end
    pieces.append(text[start:])
    return pieces


def _cut(text: str, ends: list[int]) -> list[str]:
    bounds = [0, *(end for end in ends if 0 < end < len(text)), len(text)]
    return [text[a:b] for a, b in pairwise(bounds) if a < b]


def _grapheme_boundary(text: str, i: int) -> bool:
    """Whether a cut at ``i`` keeps user-perceived characters whole (accents, emoji sequences, flags)."""
    if i <= 0 or i >= len(text):
        return True
    before, after = text[i - 1], text[i]
    cp = ord(after)
    if unicodedata.category(after)[0] == "M" or "\u200d" in (before, after) or before + after == "\r\n":
        return False
    if 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F or 0xDC00 <= cp <= 0xDFFF:
        return False  # skin tones, emoji tags, the low half of a surrogate pair
    if 0x1F1E6 <= cp <= 0x1F1FF:  # regional indicators pair up into flags
        run = 0
        while run < i and 0x1F1E6 <= ord(text[i - 1 - run]) <= 0x1F1FF:
            run += 1
        return run % 2 == 0
    return True


def widen(
    text: str,
    before: str | None,
    after: str | None,
    count_tokens: Callable[[str], int],
    max_tokens: int,
) -> str:
    """``text`` with whole sentences of the chunks around it, nearest first (after, then before, in
    turn), while the result stays within ``max_tokens``: small-to-big retrieval, matching on a
    small chunk and handing the generator more of its section. The sentences that chunks share
    (their overlap) are not repeated; line and paragraph breaks are kept."""
    from babelrag.stores.cjk import is_unspaced

    have = {s.strip() for s in split_sentences(text) if s.strip()}
    head = [s for s in split_sentences(before or "") if s.strip() and s.strip() not in have]
    tail = [s for s in split_sentences(after or "") if s.strip() and s.strip() not in have]
    used = count_tokens(text)
    if used >= max_tokens or not (head or tail):
        return text
    added_before: list[str] = []
    added_after: list[str] = []
    for _ in range(len(head) + len(tail)):
        grew = False
        for pool, added, nearest in ((tail, added_after, 0), (head, added_before, -1)):
            if not pool:
                continue
            cost = count_tokens(pool[nearest]) + 1
            if used + cost > max_tokens:
                pool.clear()  # the nearest one does not fit: nothing further on this side reads well
                continue
            used += cost
            grew = True
            sentence = pool.pop(nearest)
            added.insert(len(added) if nearest == 0 else 0, sentence)
        if not grew:
            break
    core = text.strip()
    gap = "" if is_unspaced(core) else " "
    start = "".join(added_before)
    if start and not start[-1].isspace():
        start += gap
    end = "".join(added_after).rstrip()
    return f"{start}{core}{gap if end else ''}{end}"
