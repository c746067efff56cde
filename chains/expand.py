"""Draft expansion: a few new, cited sentences for one section of an author's draft.

The section's opening is searched across languages; the generator writes sentences in the
draft's language and voice from the passages found; only sentences a passage supports survive
(attribute-or-abstain, as for answers), minus those that merely repeat the author or slipped into
another language. The writing assistant (:mod:`babelrag.agents.writer`) decides which sections to
expand and by how much; this chain does one section.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda

from babelrag.chains.answer import pack_passages
from babelrag.chains.citations import drop_cut_off, strip_citations
from babelrag.chains.generator import Decoding, LocalChatModel
from babelrag.chains.grounding import Grounder
from babelrag.chains.prompting import render
from babelrag.chains.retrieval import CrossLingualRetriever
from babelrag.stores.chunking import split_sentences
from babelrag.stores.cjk import is_unspaced, join_sentences, word_count
from babelrag.stores.knowledge_store import SearchHit
from babelrag.stores.langdetect import UNDETERMINED, language_name

EXPAND_VARIABLES = ("passages", "paragraph", "language", "sentences")


@dataclass
class Expansion:
    """New sentences for one section; their ``[n]`` markers point into ``hits``."""

    text: str
    hits: list[SearchHit]
    timings: dict[str, float] = field(default_factory=dict)


class ExpandChain(Runnable[dict[str, Any], Expansion | None]):
    """``{"section", "lang", "budget", "exclude"?}`` -> :class:`Expansion`, or None if nothing fits.

    ``budget`` is how many words the section may grow by; ``exclude`` holds chunk ids already
    used (another pass looks for passages not used yet).
    """

    name = "expand_section"

    def __init__(
        self,
        *,
        retriever: CrossLingualRetriever,
        llm: LocalChatModel,
        grounder: Grounder,
        prompt: ChatPromptTemplate,
        detect_language: Callable[[str], str],
        passages_per_section: int = 3,
        context_tokens: int = 2048,
    ) -> None:
        self.retriever = retriever
        self.llm = llm
        self.grounder = grounder
        self.prompt = prompt
        self.detect_language = detect_language
        self.passages_per_section = passages_per_section
        self.context_tokens = context_tokens

    def invoke(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> Expansion | None:
        return self._call_with_config(self._expand, input, config)

    def _expand(self, request: Mapping[str, Any]) -> Expansion | None:
        section, lang = str(request["section"]), str(request["lang"])
        exclude: set[str] = set(request.get("exclude") or ())
        timings: dict[str, float] = {}
        started = time.perf_counter()
        hits = self._passages(section, lang, exclude)
        timings["retrieve_s"] = time.perf_counter() - started
        if not hits:
            return None
        text, used = pack_passages(
            hits, count_tokens=self.llm.count_tokens, budget=self.context_tokens // 2, number=False
        )
        n_sentences = max(1, min(3, round(int(request["budget"]) / max(1, word_count(section)) * 2)))
        messages = render(
            self.prompt,
            passages=text,
            paragraph=section,
            language=language_name(lang),
            sentences=str(n_sentences),
        )
        started = time.perf_counter()
        limit = 60 * n_sentences + 40
        reply = self.llm.invoke(messages, decoding=Decoding(max_new_tokens=limit))
        timings["generate_s"] = time.perf_counter() - started
        started = time.perf_counter()
        check = RunnableLambda(
            lambda reply_text: self.grounder.ground(reply_text, used, boilerplate=section.splitlines()),
            name="ground",
        )
        hit_limit = (reply.response_metadata or {}).get("completion_tokens", 0) >= limit
        grounded = check.invoke(drop_cut_off(str(reply.content), hit_limit=hit_limit))
        timings["ground_s"] = time.perf_counter() - started
        kept = self._in_language(_drop_repeats(grounded.text, section), lang)
        kept = _without_foreign_words(kept, section, used)
        return Expansion(kept, list(used), timings) if kept else None

    def _passages(self, section: str, lang: str, exclude: set[str]) -> list[SearchHit]:
        # ask for enough candidates that passages already used in earlier passes can be skipped
        retriever = (
            self.retriever.model_copy(update={"k": self.retriever.k + len(exclude)})
            if exclude
            else self.retriever
        )
        hits = [
            h for h in retriever.retrieve(_query_for(section), query_lang=lang).hits if h.id not in exclude
        ]
        return hits[: self.passages_per_section]

    def _in_language(self, text: str, lang: str) -> str:
        """Only sentences in the draft's language: a small model slips into the passages' language."""
        kept = [
            s.strip()
            for s in split_sentences(text)
            if s.strip() and self.detect_language(strip_citations(s)) in (lang, UNDETERMINED)
        ]
        return join_sentences(kept).strip()


def _query_for(text: str, limit: int = 160) -> str:
    """The start of a section is a good search query; a whole long section is not."""
    plain = " ".join(line.lstrip("#").strip() for line in text.splitlines() if line.strip())
    return plain[:limit]


def _drop_repeats(addition: str, original: str, *, overlap: float = 0.7) -> str:
    """Remove added sentences that merely repeat the author's text, also reworded a little: most of
    the sentence's character pairs already in one sentence of the draft (CJK has no words to
    compare, so pairs of characters serve for every script)."""
    norm = re.sub(r"\W+", "", original).casefold()
    drafted = [_pairs(_plain(s)) for s in split_sentences(original) if s.strip()]
    whole = _pairs(_plain(original))
    parts = re.split(r"(?<=[.!?。！？])\s*", addition)
    kept = []
    for part in parts:
        plain = _plain(part)
        if not plain or plain in norm:
            continue
        pairs = _pairs(plain)
        if pairs and (
            any(len(pairs & d) / len(pairs) >= overlap for d in drafted)
            or len(pairs & whole) / len(pairs) >= 0.85  # one sentence restating two of the draft's
        ):
            continue
        kept.append(part.strip())
    return join_sentences(kept).strip()


def _plain(text: str) -> str:
    """Letters and digits only, citation markers removed, case folded: what repeats are compared on."""
    return re.sub(r"\[\d+\]|\W+", "", text).casefold()


def _pairs(plain: str) -> set[str]:
    return {plain[i : i + 2] for i in range(len(plain) - 1)}


_LATIN_WORD = re.compile(r"(?<![`A-Za-z0-9_./-])[a-z]{4,}(?![`A-Za-z0-9_./-])")


def _without_foreign_words(addition: str, draft: str, passages: Sequence[SearchHit]) -> str:
    """In a Chinese or Japanese addition, drop sentences carrying an English word a small model left
    untranslated ("但 boiling水…"): a plain lower-case Latin word that the draft does not use, that no
    passage in CJK script uses, but that an English (or other Latin-script) passage does. Names,
    commands and code written as the CJK sources write them pass."""
    if not addition or not is_unspaced(addition):
        return addition
    cjk_text = (" ".join(h.text for h in passages if is_unspaced(h.text)) + " " + draft).casefold()
    latin_text = " ".join(h.text for h in passages if not is_unspaced(h.text)).casefold()
    kept = []
    for sentence in split_sentences(addition):
        words = set(_LATIN_WORD.findall(sentence))
        foreign = [w for w in words if w not in cjk_text and re.search(rf"\b{w}\b", latin_text)]
        if sentence.strip() and not foreign:
            kept.append(sentence.strip())
    return join_sentences(kept).strip()
