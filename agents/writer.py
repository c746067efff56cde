"""The writing assistant: a draft in any language, expanded with background from the KB.

The author's text is kept as it is. Each section of the draft gets a few cited sentences from
the expansion chain (:mod:`babelrag.chains.expand`) until the target length is reached; the author
accepts or rejects each addition, asks for another pass, and renders the result with its
sources. A draft nothing in the KB is relevant to comes back unchanged, with a note saying so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import Runnable

from babelrag.chains.citations import strip_citations
from babelrag.chains.expand import Expansion
from babelrag.chains.prompting import localized
from babelrag.stores.cjk import word_count
from babelrag.stores.knowledge_store import SearchHit
from babelrag.stores.langdetect import UNDETERMINED

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
    """A writing session's logic: which sections to expand, by how much, and what was used."""

    def __init__(
        self,
        *,
        expand_chain: Runnable[dict[str, Any], Expansion | None],
        detect_language: Callable[[str], str],
        messages: Mapping[str, Mapping[str, str]],
    ) -> None:
        self.expand_chain = expand_chain
        self.detect_language = detect_language
        self.messages = messages

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
        budget = max(0, int(word_count(draft) * (factor - 1)))
        additions: list[Addition] = []
        timings: dict[str, float] = dict.fromkeys(_TIMINGS, 0.0)
        for addition in self._additions(parts, lang, wanted, budget, set(exclude or ()), timings):
            addition.id = len(additions) + 1
            additions.append(addition)
        result = WriteResult(
            draft,
            lang,
            parts,
            additions,
            timings=timings,
            source_heading=localized(self.messages, "sources", lang, "Sources"),
        )
        if not additions:
            result.note = localized(
                self.messages, "write_unchanged", lang, "Nothing in the knowledge base is relevant."
            )
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
        budget = max(1, int(sum(word_count(t) for t in current.values()) * (factor - 1)))
        timings = dict.fromkeys(_TIMINGS, 0.0)
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
            expansion = self.expand_chain.invoke(
                {"section": section.text, "lang": lang, "budget": budget, "exclude": set(exclude)}
            )
            if expansion is None:
                continue
            for key, value in expansion.timings.items():
                timings[key] = timings.get(key, 0.0) + value
            budget -= word_count(expansion.text)
            yield Addition(0, section.number, expansion.text, expansion.hits)


_TIMINGS = ("retrieve_s", "generate_s", "ground_s")


def _is_bare_heading(text: str) -> bool:
    return bool(_HEADING.match(text)) and "\n" not in text.strip()


def _renumber(addition: Addition, numbering: dict[str, int], sources: list[SearchHit]) -> str:
    def repl(match: re.Match[str]) -> str:
        hit = addition.hits[int(match.group(1)) - 1]
        if hit.id not in numbering:
            sources.append(hit)
            numbering[hit.id] = len(sources)
        return f"[{numbering[hit.id]}]"

    return re.sub(r"\[(\d+)\]", repl, addition.text)
