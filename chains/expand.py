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
from collections.abc import Callable, Mapping
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
from babelrag.stores.cjk import join_sentences, word_count
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


def _drop_repeats(addition: str, original: str) -> str:
    """Remove added sentences that merely repeat the author's text."""
    norm = re.sub(r"\W+", "", original).casefold()
    parts = re.split(r"(?<=[.!?。！？])\s*", addition)
    kept = [p.strip() for p in parts if p.strip() and re.sub(r"\[\d+\]|\W+", "", p).casefold() not in norm]
    return join_sentences(kept).strip()
