"""BM25 over a knowledge base's chunks, with tokens that make sense for CJK text.

``str.split`` finds no words in Chinese or Japanese. Here Latin, Cyrillic and other spaced
scripts give lower-cased words; runs of Han characters and kana give single characters and
overlapping bigrams (the usual choice without a dictionary segmenter); Hangul gives words and
bigrams.

Our own rather than langchain-community's ``BM25Retriever`` (rank_bm25): that one has no metadata
filters (``lang``, ``where``) and returns no hit ids to fuse by; the index here is ~100 lines.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from babelrag.stores.cjk import HANGUL as _HANGUL
from babelrag.stores.cjk import UNSPACED
from babelrag.stores.context import contextual_text
from babelrag.stores.knowledge_store import KnowledgeStore, Scalar, SearchHit

_CJK = UNSPACED  # runs of these give characters and bigrams


@lru_cache(maxsize=1)
def _runs() -> re.Pattern[str]:
    """Word runs; combining marks (Devanagari vowel signs, Arabic harakat…) are not ``\\w`` in
    ``re``, but belong inside a word. Built on first use: listing the marks takes ~10 ms."""
    marks = [c for c in range(0x10000) if unicodedata.category(chr(c)).startswith("M")]
    spans: list[list[int]] = []
    for c in marks:
        if spans and spans[-1][1] == c - 1:
            spans[-1][1] = c
        else:
            spans.append([c, c])
    mark = "".join(f"{chr(a)}-{chr(b)}" for a, b in spans)
    letter = rf"[^\W_{_CJK}{_HANGUL}]"
    word = rf"{letter}+(?:[{mark}]+{letter}*)*"
    return re.compile(rf"[{_CJK}]+|[{_HANGUL}]+|{word}(?:['’.-]{word})*")


def lexical_tokens(text: str) -> list[str]:
    """Index terms of ``text`` (see module docstring)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    tokens: list[str] = []
    for run in _runs().findall(text):
        first = run[0]
        if re.match(rf"[{_CJK}]", first):
            tokens.extend(run)
            tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        elif re.match(rf"[{_HANGUL}]", first):
            tokens.append(run)
            if len(run) > 2:  # a two-syllable word is its own only bigram: count it once
                tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        else:
            tokens.append(run)
    return tokens


@dataclass(frozen=True)
class _Doc:
    id: str
    text: str
    metadata: Mapping[str, Scalar]
    length: int


class BM25Index:
    """Okapi BM25 (k1, b) over a fixed set of chunks."""

    def __init__(
        self, chunks: Sequence[tuple[str, str, Mapping[str, Scalar]]], *, k1: float = 1.2, b: float = 0.75
    ) -> None:
        self.k1, self.b = k1, b
        self.docs: list[_Doc] = []
        self.postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for index, (cid, text, meta) in enumerate(chunks):
            counts = Counter(lexical_tokens(contextual_text(str(meta.get("context") or ""), text)))
            self.docs.append(_Doc(cid, text, dict(meta), sum(counts.values())))
            for term, tf in counts.items():
                self.postings[term].append((index, tf))
        n = len(self.docs)
        self.avg_len = sum(d.length for d in self.docs) / n if n else 0.0
        self.idf = {t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in self.postings.items()}

    @classmethod
    def from_store(cls, store: KnowledgeStore, **kwargs: float) -> BM25Index:
        return cls(list(store.iter_chunks(texts=True)), **kwargs)

    def __len__(self) -> int:
        return len(self.docs)

    def search(
        self, query: str, *, k: int = 10, lang: str | None = None, where: Mapping[str, Scalar] | None = None
    ) -> list[SearchHit]:
        """Top-k chunks by BM25. ``score`` is 0 here: callers fill in the cosine if they need it."""
        scores: dict[int, float] = defaultdict(float)
        for term in set(lexical_tokens(query)):
            idf = self.idf.get(term)
            if idf is None:
                continue
            for index, tf in self.postings[term]:
                norm = self.k1 * (1 - self.b + self.b * self.docs[index].length / (self.avg_len or 1))
                scores[index] += idf * tf * (self.k1 + 1) / (tf + norm)
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        hits: list[SearchHit] = []
        for index, bm25 in ranked:
            doc = self.docs[index]
            if not _matches(doc.metadata, lang, where):
                continue
            meta = {**doc.metadata, "bm25": round(bm25, 4)}
            hits.append(
                SearchHit(
                    id=doc.id,
                    source=str(meta.get("source", "")),
                    title=str(meta.get("title", "")),
                    lang=str(meta.get("lang", "und")),
                    score=0.0,
                    text=doc.text,
                    metadata=meta,
                )
            )
            if len(hits) == k:
                break
        return hits


def _matches(meta: Mapping[str, Scalar], lang: str | None, where: Mapping[str, Scalar] | None) -> bool:
    if lang and meta.get("lang") != lang:
        return False
    return all(meta.get(key) == value for key, value in (where or {}).items())
