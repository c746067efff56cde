"""Attribute-or-abstain: every sentence of an answer must be traceable to a passage.

Small local models cite unreliably and invent numbers. So after generation each sentence is
checked: a citation the model wrote is kept if it names a real passage; a sentence without
one is attributed to the passage most similar to it (cross-lingual embeddings make this work
when answer and passage are in different languages); a sentence that no passage supports, or
whose numbers or command literals (options such as ``--soft``, words in `code`) appear in none of
its passages, is dropped (an option the passage never names was made up; the check cannot tell
which of two options the passage names is the right one). An answer with nothing left is a
"not in the knowledge base" answer: we would rather say so than pass on an invented fact.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from babelrag.chains.citations import parse_citations
from babelrag.stores.chunking import split_sentences
from babelrag.stores.cjk import is_unspaced, join_sentences
from babelrag.stores.knowledge_store import SearchHit

_MARK = re.compile(r"\s*\[(\d+)\]")  # with the space before it: "two minutes [1]." -> "two minutes."
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# a number and the unit right after it ("3 grams", "2 Minuten", "500 ml"): units to compare,
# each spelling mapped to one name so "3 g", "3 grams" and "3 Gramm" agree
_UNIT_NAMES = {
    "g": "mg g gram grams gramm gramme grammes grammi gramos",
    "kg": "kg kilo kilos kilogram kilograms kilogramm kilogramme kilogrammes",
    "l": "l liter liters litre litres litro litros",
    "ml": "ml milliliter milliliters millilitre millilitres",
    "m": "m meter meters metre metres mètre mètres metro metros",
    "cm": "cm centimeter centimeters centimetre centimetres",
    "mm": "mm millimeter millimeters millimetre millimetres",
    "km": "km kilometer kilometers kilometre kilometres kilomètre kilomètres kilómetro kilómetros",
    "s": "s sec secs second seconds sekunde sekunden seconde secondes segundo segundos",
    "min": "min mins minute minutes minuten minuto minutos",
    "h": "h hour hours stunde stunden heure heures hora horas",
    "d": "day days tag tage tagen jour jours día días dia dias",
    "y": "year years jahr jahre jahren an ans año años",
    "%": "percent prozent pourcent",
    "kb": "kb kib", "mb": "mb mib", "gb": "gb gib", "tb": "tb tib",
    "hz": "hz", "khz": "khz", "mhz": "mhz", "ghz": "ghz", "w": "w watt watts", "kw": "kw",
}  # fmt: skip
_UNIT_OF = {spelling: name for name, spellings in _UNIT_NAMES.items() for spelling in spellings.split()}
_NUMBER_UNIT = re.compile(
    r"(\d+(?:[.,]\d+)*)\s?(" + "|".join(sorted(map(re.escape, _UNIT_OF), key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)
_OPTION = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*")  # -r, --soft; not "well-known" or "鱼-shaped"
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
#: Scaffolding small models copy from the prompt: "[1] (Title):", "Passage [2]:", "Passage 2:";
#: not a time ("10:30 ...") or a year ("2019: ...") that starts a line of the answer.
_SCAFFOLD = re.compile(
    r"^\s*(?:[-*•]\s*)?(?:(?:passage|passages|quelle|passage)\s*)?\[?\d{1,2}\]?\s*(?:\([^)\n]{0,120}\))?\s*[:：](?!\d)\s*",
    re.IGNORECASE,
)


@dataclass
class Grounded:
    text: str
    cited: list[int]  # passage numbers in order of first citation
    dropped: list[str] = field(default_factory=list)  # sentences no passage supports


@dataclass(frozen=True)
class Grounder:
    """:func:`ground_answer` over one knowledge base, built by the composition root.

    It embeds sentences as queries and reads the passages' vectors from the store, so the chains
    that use it need neither the embedder nor the store.
    """

    embed_sentences: Callable[[list[str]], list[list[float]]]
    passage_vectors: Callable[[list[str]], list[list[float]]]  # chunk ids -> stored vectors
    min_similarity: float = 0.8

    def ground(
        self, text: str, passages: Sequence[SearchHit], *, boilerplate: Sequence[str] = ()
    ) -> Grounded:
        """Keep what the numbered ``passages`` support; ``boilerplate``: lines the model may echo."""
        return ground_answer(
            text,
            [p.text for p in passages],
            titles=[p.title for p in passages] + list(boilerplate),
            embed_sentences=self.embed_sentences,
            passage_vectors=self.passage_vectors([p.id for p in passages]),
            min_similarity=self.min_similarity,
        )


def ground_answer(
    answer: str,
    passages: Sequence[str],
    *,
    titles: Sequence[str] = (),
    embed_sentences: Callable[[list[str]], list[list[float]]],
    passage_vectors: Sequence[Sequence[float]],
    min_similarity: float = 0.8,
) -> Grounded:
    cleaned, _, _ = parse_citations(_strip_scaffold(answer), len(passages))
    sentences = [s.strip() for line in cleaned.splitlines() for s in split_sentences(line) if s.strip()]
    boilerplate = {t.strip().casefold() for t in titles if t.strip()}
    boilerplate |= {ln.strip().casefold() for p in passages for ln in p.splitlines() if _is_heading(ln)}
    sentences = [s for s in _dedupe(sentences) if _is_statement(s, boilerplate)]
    if not sentences:
        return Grounded("", [])
    plain = [_MARK.sub("", s).strip() for s in sentences]
    vectors = np.asarray(embed_sentences(plain), dtype=np.float32)
    pvecs = np.asarray(passage_vectors, dtype=np.float32)
    sims = vectors @ pvecs.T if len(pvecs) else np.zeros((len(sentences), 0))
    kept: list[str] = []
    dropped: list[str] = []
    for sentence, text, row in zip(sentences, plain, sims, strict=True):
        refs = [int(n) for n in _MARK.findall(sentence)]
        if not refs and row.size and row.max() >= min_similarity:
            refs = [int(row.argmax()) + 1]
        sources = [passages[r - 1] for r in refs]
        if not refs or not _numbers_supported(text, sources) or not _literals_supported(text, sources):
            dropped.append(text)
            lead_in = _MARK.sub("", kept[-1]).strip() if kept else ""
            if lead_in.endswith((":", "：")):  # "use this command:" with its command dropped
                dropped.append(lead_in)
                kept.pop()
            continue
        body = _MARK.sub("", sentence).rstrip()
        kept.append(_attach(body, refs))
    final, cited, _ = parse_citations(join_sentences(kept), len(passages))
    return Grounded(final, cited, dropped)


def _strip_scaffold(answer: str) -> str:
    lines = [_SCAFFOLD.sub("", line) for line in answer.splitlines()]
    return "\n".join(line for line in lines if line.strip())


def _is_heading(line: str) -> bool:
    """A short passage line without closing punctuation: a heading the model may copy."""
    line = line.strip()
    return 0 < len(line) <= 60 and not line.endswith((".", "!", "?", "。", "！", "？", ":", "："))


def _is_statement(sentence: str, boilerplate: set[str]) -> bool:
    """Not a question echoed back, not a copied heading, not a fragment."""
    text = _MARK.sub("", sentence).strip()
    if text.rstrip().endswith(("?", "？")):
        return False
    if text.strip(" :：.。!！?？").casefold() in boilerplate:
        return False
    return len(re.sub(r"[\W\d_]+", "", text)) >= 3


def _dedupe(sentences: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for s in sentences:
        key = _MARK.sub("", s).strip().casefold()
        if key and key not in seen:
            seen.add(key)
            out.append(s)
    return out


def _numbers_supported(text: str, sources: Sequence[str]) -> bool:
    """Every number in the sentence occurs in one of its passages (1.230 and 1,230 count as 1230),
    and a number with a unit ("3 grams", "5 Minuten") occurs in a Latin-script passage with the
    same unit: "about 3 grams of caffeine" is not supported by "steep for 2 to 3 minutes" or
    "step 3". Units are compared by meaning across languages (g, grams, Gramm); against passages
    in CJK scripts only the number is checked."""
    haystack = {_norm_number(n) for src in sources for n in _NUMBER.findall(src)}
    if not all(_norm_number(n) in haystack for n in _NUMBER.findall(text)):
        return False
    latin = [src for src in sources if not is_unspaced(src)]
    if not latin:  # units are compared in Latin-script passages only
        return True
    written = {
        (_norm_number(m.group(1)), _unit(m.group(2))) for src in latin for m in _NUMBER_UNIT.finditer(src)
    }
    return all((_norm_number(m.group(1)), _unit(m.group(2))) in written for m in _NUMBER_UNIT.finditer(text))


def _unit(word: str) -> str:
    return _UNIT_OF.get(word.casefold(), word.casefold())


def _literals_supported(text: str, sources: Sequence[str]) -> bool:
    """Every command-line option and every word in a `code span` occurs in one of its passages.

    These are copied, never translated, so a cross-lingual answer must reproduce them exactly; a
    placeholder such as ``<Datei>`` may be translated and is not checked.
    """
    literals = set(_OPTION.findall(text))
    for span in _CODE_SPAN.findall(text):
        for token in span.split():
            token = token.strip(".,;:!?()[]{}\"'")
            if token and not token.startswith("<"):
                literals.add(token)
    return all(any(lit in src for src in sources) for lit in literals)


def _norm_number(value: str) -> str:
    """Thousands separators go (1.230 = 1,230 = 1230); a decimal comma becomes a point (2,5 = 2.5)."""
    value = re.sub(r"(?<=\d)[.,](?=\d{3}(?!\d))", "", value)
    return value.replace(",", ".").lstrip("0") or "0"


def _attach(body: str, refs: Sequence[int]) -> str:
    marks = "".join(f"[{r}]" for r in dict.fromkeys(refs))
    match = re.search(r"[.!?。！？…]+$", body)
    if match:
        return body[: match.start()] + marks + body[match.start() :]
    return body + marks
