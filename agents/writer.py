"""The writing assistant: a draft in any language, expanded with background from the KB.

The author's text is kept as it is. For each section of the draft the knowledge base is
searched across languages, the generator is asked for a few new sentences in the draft's
language and voice, and only sentences that a passage supports survive (attribute-or-abstain,
as for answers); each carries its citation. A draft nothing in the KB is relevant to comes back
unchanged, with a note saying so.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.prompts import ChatPromptTemplate

from babelrag.chains.answer import pack_passages
from babelrag.chains.citations import strip_citations
from babelrag.chains.generator import Decoding, LocalChatModel
from babelrag.chains.grounding import ground_answer
from babelrag.chains.prompting import render
from babelrag.chains.retrieval import CrossLingualRetriever
from babelrag.stores.chunking import split_sentences
from babelrag.stores.knowledge_store import SearchHit
from babelrag.stores.langdetect import UNDETERMINED, language_name

EXPAND_VARIABLES = ("passages", "paragraph", "language", "sentences")
_HEADING = re.compile(r"^#{1,6}\s")


@dataclass
class Section:
    number: int  # 1-based
    text: str  # the author's text, verbatim


@dataclass
class Addition:
    id: int
    section: int
    text: str  # with local citation markers resolved to hits below
    hits: list[SearchHit]  # the passages its [n] markers point to, in marker order
    accepted: bool = True


@dataclass
class WriteResult:
    draft: str
    lang: str
    sections: list[Section]
    additions: list[Addition]
    note: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    source_heading: str = "Sources"

    @property
    def unchanged(self) -> bool:
        return not any(a.accepted for a in self.additions)

    def render(self) -> str:
        """Markdown: the draft with accepted additions after their sections, then the sources."""
        if self.unchanged:
            return self.draft
        numbering: dict[str, int] = {}
        sources: list[SearchHit] = []
        blocks: list[str] = []
        for section in self.sections:
            blocks.append(section.text.rstrip())
            for add in (a for a in self.additions if a.section == section.number and a.accepted):
                blocks.append(_renumber(add, numbering, sources))
        lines = [f"[{n}] {hit.title} — {hit.source} ({hit.lang})" for n, hit in enumerate(sources, 1)]
        return "\n\n".join(blocks) + f"\n\n## {self.source_heading}\n\n" + "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {
            "lang": self.lang,
            "unchanged": self.unchanged,
            "note": self.note,
            "text": self.render(),
            "additions": [
                {
                    "id": a.id,
                    "section": a.section,
                    "text": a.text,
                    "accepted": a.accepted,
                    "sources": [h.to_dict() for h in a.hits],
                }
                for a in self.additions
            ],
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }


def split_sections(draft: str) -> list[Section]:
    """Markdown headings start sections; without headings every paragraph is a section."""
    blocks = [b for b in re.split(r"\n\s*\n", draft.strip()) if b.strip()]
    has_headings = any(_HEADING.match(b) for b in blocks)
    sections: list[list[str]] = []
    for block in blocks:
        if not sections or not has_headings or _HEADING.match(block):
            sections.append([block])
        else:
            sections[-1].append(block)
    return [Section(i, "\n\n".join(parts)) for i, parts in enumerate(sections, 1)]


class WritingAssistant:
    def __init__(
        self,
        *,
        retriever: CrossLingualRetriever,
        llm: LocalChatModel,
        prompt: ChatPromptTemplate,
        detect_language: Callable[[str], str],
        messages: Mapping[str, Mapping[str, str]],
        min_support: float = 0.8,
        passages_per_section: int = 3,
        context_tokens: int = 2048,
    ) -> None:
        self.retriever = retriever
        self.llm = llm
        self.prompt = prompt
        self.detect_language = detect_language
        self.messages = messages
        self.min_support = min_support
        self.passages_per_section = passages_per_section
        self.context_tokens = context_tokens

    def expand(
        self,
        draft: str,
        *,
        lang: str | None = None,
        sections: Sequence[int] | None = None,
        factor: float = 1.5,
        exclude: set[str] | None = None,
    ) -> WriteResult:
        """Expand ``draft`` towards ``factor`` times its length; ``exclude``: chunk ids already used."""
        lang = lang or self.detect_language(draft)
        lang = "en" if lang == UNDETERMINED else lang
        parts = split_sections(draft)
        wanted = set(sections) if sections else {s.number for s in parts}
        budget = max(0, int(_length(draft) * (factor - 1)))
        additions: list[Addition] = []
        timings: dict[str, float] = {"retrieve_s": 0.0, "generate_s": 0.0, "ground_s": 0.0}
        for addition in self._additions(parts, lang, wanted, budget, exclude or set(), timings):
            addition.id = len(additions) + 1
            additions.append(addition)
        result = WriteResult(
            draft,
            lang,
            parts,
            additions,
            timings=timings,
            source_heading=self._message("sources", lang, "Sources"),
        )
        if not additions:
            result.note = self._message("write_unchanged", lang, "Nothing in the knowledge base is relevant.")
        return result

    def another_pass(
        self, result: WriteResult, *, factor: float = 1.3, sections: Sequence[int] | None = None
    ) -> WriteResult:
        """Expand again, on the draft plus the additions kept so far, with passages not used yet."""
        used = {h.id for a in result.additions for h in a.hits}
        current = {s.number: s.text for s in result.sections}
        for add in result.additions:
            if add.accepted:
                current[add.section] += "\n\n" + strip_citations(add.text)
        budget = max(1, int(sum(_length(t) for t in current.values()) * (factor - 1)))
        timings = dict.fromkeys(("retrieve_s", "generate_s", "ground_s"), 0.0)
        wanted = set(sections) if sections else set(current)
        parts = [Section(number, text) for number, text in current.items()]
        for addition in self._additions(parts, result.lang, wanted, budget, used, timings):
            addition.id = max((a.id for a in result.additions), default=0) + 1
            result.additions.append(addition)
            used |= {h.id for h in addition.hits}  # seen by the next section: the generator is lazy
        for key, value in timings.items():
            result.timings[key] = result.timings.get(key, 0.0) + value
        if result.additions:
            result.note = None
        return result

    def _additions(
        self,
        sections: Sequence[Section],
        lang: str,
        wanted: set[int],
        budget: int,
        exclude: set[str],
        timings: dict[str, float],
    ) -> Iterator[Addition]:
        """An addition for each wanted section with something to add, until the budget is spent."""
        for section in sections:
            if section.number not in wanted or budget <= 0 or _is_bare_heading(section.text):
                continue
            addition = self._expand_section(section, lang, exclude, timings, budget)
            if addition is not None:
                budget -= _length(addition.text)
                yield addition

    def _expand_section(
        self, section: Section, lang: str, exclude: set[str], timings: dict[str, float], budget: int
    ) -> Addition | None:
        started = time.perf_counter()
        query = _query_for(section.text)
        # ask for enough candidates that passages already used in earlier passes can be skipped
        retriever = (
            self.retriever.model_copy(update={"k": self.retriever.k + len(exclude)})
            if exclude
            else self.retriever
        )
        hits = [h for h in retriever.retrieve(query, query_lang=lang).hits if h.id not in exclude]
        hits = hits[: self.passages_per_section]
        timings["retrieve_s"] += time.perf_counter() - started
        if not hits:
            return None
        text, used = pack_passages(
            hits, count_tokens=self.llm.count_tokens, budget=self.context_tokens // 2, number=False
        )
        n_sentences = max(1, min(3, round(budget / max(1, _length(section.text)) * 2)))
        messages = render(
            self.prompt,
            passages=text,
            paragraph=section.text,
            language=language_name(lang),
            sentences=str(n_sentences),
        )
        started = time.perf_counter()
        reply = self.llm.invoke(messages, decoding=Decoding(max_new_tokens=60 * n_sentences + 40))
        timings["generate_s"] += time.perf_counter() - started
        started = time.perf_counter()
        store = self.retriever.store
        grounded = ground_answer(
            str(reply.content),
            [h.text for h in used],
            titles=[h.title for h in used] + section.text.splitlines(),
            embed_sentences=getattr(store.embedder, "embed_queries", None)
            or (lambda ts: [store.embedder.embed_query(t) for t in ts]),
            passage_vectors=store.vectors([h.id for h in used]),
            min_similarity=self.min_support,
        )
        timings["ground_s"] += time.perf_counter() - started
        kept = self._in_language(_drop_repeats(grounded.text, section.text), lang)
        if not kept:
            return None
        return Addition(0, section.number, kept, list(used))

    def _in_language(self, text: str, lang: str) -> str:
        """Only sentences in the draft's language: a small model slips into the passages' language."""
        kept = [
            s
            for s in split_sentences(text)
            if s.strip() and self.detect_language(strip_citations(s)) in (lang, UNDETERMINED)
        ]
        return ("" if _cjk(text) else " ").join(s.strip() for s in kept).strip()

    def _message(self, key: str, lang: str, default: str) -> str:
        table = self.messages.get(key, {})
        return table.get(lang) or table.get("en") or default


def _is_bare_heading(text: str) -> bool:
    return bool(_HEADING.match(text)) and "\n" not in text.strip()


def _query_for(text: str, limit: int = 160) -> str:
    """The start of a section is a good search query; a whole long section is not."""
    plain = " ".join(line.lstrip("#").strip() for line in text.splitlines() if line.strip())
    return plain[:limit]


def _drop_repeats(addition: str, original: str) -> str:
    """Remove added sentences that merely repeat the author's text."""
    norm = re.sub(r"\W+", "", original).casefold()
    parts = re.split(r"(?<=[.!?。！？])\s*", addition)
    kept = [p for p in parts if p.strip() and re.sub(r"\[\d+\]|\W+", "", p).casefold() not in norm]
    return (" " if not _cjk(addition) else "").join(kept).strip()


def _renumber(addition: Addition, numbering: dict[str, int], sources: list[SearchHit]) -> str:
    def repl(match: re.Match[str]) -> str:
        hit = addition.hits[int(match.group(1)) - 1]
        if hit.id not in numbering:
            sources.append(hit)
            numbering[hit.id] = len(sources)
        return f"[{numbering[hit.id]}]"

    return re.sub(r"\[(\d+)\]", repl, addition.text)


def _length(text: str) -> int:
    """Length in words, counting each CJK character as a word."""
    return len(re.findall(r"[\u3040-\u9fff\uac00-\ud7af]|[^\W\d_]+", text))


def _cjk(text: str) -> bool:
    return sum("\u3040" <= c <= "\u9fff" for c in text) > len(text) / 3
