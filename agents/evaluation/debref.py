"""A real cross-lingual retrieval set from the Debian Reference, in any of its translations.

The manual exists in English and about ten translations generated from one DocBook source,
so every section has the same anchor id in every language. The corpus is the English
sections; a query is the same section's title (variant ``titles``) or opening sentences
(variant ``openings``) in the other language, and its one relevant document is the English
section it came from. Translations lag the original, so untranslated titles and paragraphs
(left in English by po4a) are detected and dropped: they would make the set monolingual.
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from babelrag.agents.evaluation.beir import BeirDataset, CorpusDoc, EvalDataError, Query, write_beir
from babelrag.agents.evaluation.debfetch import AptCache, UnknownPackageError, deb_version
from babelrag.agents.evaluation.debref_html import Section, parse_manual
from babelrag.stores.langdetect import detect_language as _detect_language
from babelrag.stores.progress import NullProgress, Progress

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

PACKAGE_PREFIX = "debian-reference-"
HTML_DIR = Path("usr/share/debian-reference")
# Debian package suffix -> ISO 639-1 code of the ``lang`` fields (Debian 12 ships these).
DEBREF_LANGUAGES: dict[str, str] = {
    "de": "de", "es": "es", "fr": "fr", "id": "id", "it": "it", "ja": "ja",
    "pt": "pt", "pt-br": "pt", "zh-cn": "zh", "zh-tw": "zh",
}  # fmt: skip
_ALIASES = {"zh": "zh-cn", "zh-hans": "zh-cn", "zh-sg": "zh-cn", "zh-hant": "zh-tw", "zh-hk": "zh-tw"}
_ALIASES |= {"pt-pt": "pt", "chinese": "zh-cn", "german": "de", "french": "fr", "spanish": "es"}
_ALIASES |= {"japanese": "ja", "italian": "it", "portuguese": "pt", "indonesian": "id"}
VARIANTS = ("titles", "openings")
MIN_TEXT_CHARS = 200
OPENING_CHARS = 200
_SENTENCE_END = re.compile(r"[.!?](?=\s)|[。！？]")


@dataclass
class BuildReport:
    lang: str  # ISO 639-1 code of the queries
    package: str
    variant: str
    out_dir: Path
    corpus_docs: int
    queries: int
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> sections
    versions: dict[str, str] = field(default_factory=dict)  # package -> Debian version
    fingerprint: str = ""
    seconds: float = 0.0


def debref_package_suffix(lang: str) -> str:
    """The Debian package suffix for what a user types: ``zh-CN``, ``zh_cn``, ``zh``, ``German``."""
    key = lang.strip().lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    if key in DEBREF_LANGUAGES:
        return key
    if key in ("en", "english"):
        raise EvalDataError("English is the corpus language of the Debian Reference set; pick a translation")
    known = ", ".join(sorted(DEBREF_LANGUAGES))
    raise EvalDataError(f"the Debian Reference has no {lang!r} translation; available: {known}")


def _normalised(text: str) -> str:
    """Case, punctuation and spacing removed: what decides whether a translation is a copy."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


def opening(text: str, target: int = OPENING_CHARS) -> str:
    """About ``target`` characters from the start, cut after a sentence where one ends nearby."""
    text = " ".join(text.split())
    if len(text) <= target:
        return text
    ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, target * 2)]
    before = [end for end in ends if target * 0.4 <= end <= target]
    if before:
        return text[: before[-1]]
    after = [end for end in ends if end > target]
    if after and after[0] <= target * 1.6:
        return text[: after[0]]
    space = text.rfind(" ", 0, target)
    return text[: space if space >= target // 2 else target].rstrip()


class TargetLanguageCheck:
    """Whether a text is in the target language rather than left in English.

    ``detect_language`` alone says "und" (or a neighbour: gl for es) on most short titles such
    as "Vorwort"; dropping those would keep only the long, easy titles. So where it names
    neither the target nor English, a two-way English-or-target decision of py3langid settles it.
    """

    def __init__(self, iso: str, detect_language: Callable[[str], str] = _detect_language) -> None:
        self.iso = iso
        self.detect_language = detect_language
        self._pairwise: LanguageIdentifier | None = None

    def __call__(self, text: str) -> bool:
        found = self.detect_language(text)
        if found in (self.iso, "en"):
            return found == self.iso
        if self._pairwise is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            self._pairwise = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            self._pairwise.set_languages([self.iso, "en"])
        return self._pairwise.classify(text)[0] == self.iso


def _section_opening(section: Section) -> str:
    return opening(" ".join(section.paragraphs) or section.text)


def _translated_opening(section: Section, english_text: str) -> str:
    """The opening of the section's leading translated paragraphs: po4a leaves untranslated
    paragraphs in English, and a query must not end in one."""
    english = _normalised(english_text)
    kept: list[str] = []
    for paragraph in section.paragraphs or section.blocks:
        if _normalised(paragraph) in english:
            break
        kept.append(paragraph)
    return opening(" ".join(kept)) if kept else ""


def build_dataset(
    english: dict[str, Section],
    translated: dict[str, Section],
    *,
    suffix: str,
    variant: str = "titles",
    in_target_language: Callable[[str], bool] | None = None,
    min_chars: int = MIN_TEXT_CHARS,
) -> tuple[BeirDataset, dict[str, int]]:
    """Corpus of English sections and queries from their really translated counterparts.

    Returns the data set and, per reason, how many sections gave no query. English sections
    sharing one title are all relevant to that title's query: nothing could tell them apart.
    """
    if variant not in VARIANTS:
        raise EvalDataError(f"unknown Debian Reference variant {variant!r}; use one of {', '.join(VARIANTS)}")
    iso = DEBREF_LANGUAGES[suffix]
    in_target_language = in_target_language or TargetLanguageCheck(iso)
    corpus = {
        sid: CorpusDoc(sid, s.title, s.text, "en") for sid, s in english.items() if len(s.text) >= min_chars
    }
    same_title: dict[str, list[str]] = {}
    for sid, doc in corpus.items():
        same_title.setdefault(_normalised(doc.title), []).append(sid)
    skipped = dict.fromkeys(
        ("too short in English", "not in the translation", "untranslated", "not in the target language"), 0
    )
    skipped["too short in English"] = len(english) - len(corpus)
    queries: dict[str, Query] = {}
    qrels: dict[str, dict[str, int]] = {}
    for sid, doc in corpus.items():
        section = translated.get(sid)
        if section is None:
            skipped["not in the translation"] += 1
            continue
        if variant == "titles":
            text = section.title
            copied = _normalised(text) == _normalised(doc.title)
            relevant = same_title[_normalised(doc.title)]
        else:
            text = _translated_opening(section, doc.text)
            copied = not text
            relevant = [sid]
        if not _normalised(text) or copied:
            skipped["untranslated"] += 1
            continue
        if not in_target_language(text):
            skipped["not in the target language"] += 1
            continue
        qid = f"{suffix}:{sid}"
        queries[qid] = Query(qid, text, iso)
        qrels[qid] = dict.fromkeys(relevant, 1)
    return BeirDataset(corpus, queries, qrels), skipped


def _load_manual(cache: AptCache, suffix: str, progress: Progress) -> tuple[dict[str, Section], str]:
    package = PACKAGE_PREFIX + suffix
    with progress.task(f"downloading {package}", total=1) as task:
        try:
            deb = cache.download(package)
        except UnknownPackageError as exc:
            known = sorted(
                name.removeprefix(PACKAGE_PREFIX)
                for name in cache.package_names(PACKAGE_PREFIX)
                if name.removeprefix(PACKAGE_PREFIX) not in ("common", "en")
            ) or sorted(DEBREF_LANGUAGES)
            raise EvalDataError(
                f"{exc.message}; the Debian Reference is packaged for: {', '.join(known)}",
                hint="pick one of those languages",
            ) from None
        task.advance()
    with progress.task(f"unpacking {deb.name}", total=1) as task:
        folder = cache.unpack(deb, package) / HTML_DIR
        task.advance()
    pages = sorted(folder.glob(f"*.{suffix}.html"))
    if not pages:
        raise EvalDataError(
            f"{deb.name} holds no {HTML_DIR}/*.{suffix}.html; has the package layout changed?"
        )
    with progress.task(f"parsing {package}", total=1) as task:
        sections = parse_manual(folder, suffix)
        task.advance()
    return sections, deb_version(deb)


def _load_pair(
    lang: str, cache_dir: Path, progress: Progress | None
) -> tuple[str, dict[str, Section], dict[str, Section], dict[str, str]]:
    suffix = debref_package_suffix(lang)
    progress = progress or NullProgress()
    cache = AptCache(Path(cache_dir) / "debref")
    translated, version = _load_manual(cache, suffix, progress)  # first: a missing language fails fast
    english, en_version = _load_manual(cache, "en", progress)
    versions = {PACKAGE_PREFIX + "en": en_version, PACKAGE_PREFIX + suffix: version}
    if en_version != version:
        progress.log(
            f"warning: English {en_version} and {suffix} {version} differ; some sections may not align"
        )
    return suffix, english, translated, versions


def build_debref(
    lang: str, out_dir: Path, *, cache_dir: Path, variant: str = "titles", progress: Progress | None = None
) -> BuildReport:
    """Fetch the English and ``lang`` manuals (cached) and write one BEIR folder to ``out_dir``."""
    started = time.perf_counter()
    if variant not in VARIANTS:
        raise EvalDataError(f"unknown Debian Reference variant {variant!r}; use one of {', '.join(VARIANTS)}")
    suffix, english, translated, versions = _load_pair(lang, cache_dir, progress)
    dataset, skipped = build_dataset(english, translated, suffix=suffix, variant=variant)
    if not dataset.queries:
        raise EvalDataError(f"no section of the {suffix} Debian Reference is translated; no query to write")
    fingerprint = write_beir(dataset, Path(out_dir))
    return BuildReport(
        lang=DEBREF_LANGUAGES[suffix],
        package=PACKAGE_PREFIX + suffix,
        variant=variant,
        out_dir=Path(out_dir),
        corpus_docs=len(dataset.corpus),
        queries=len(dataset.queries),
        skipped=skipped,
        versions=versions,
        fingerprint=fingerprint,
        seconds=time.perf_counter() - started,
    )


def _spread(items: list[str], limit: int | None) -> list[str]:
    """``limit`` items evenly spaced over the list: a deterministic sample of every chapter."""
    if limit is None or limit >= len(items):
        return items
    return [items[i * len(items) // limit] for i in range(max(limit, 0))]


def build_debref_questions(
    lang: str, out_path: Path, *, cache_dir: Path, limit: int | None = None, progress: Progress | None = None
) -> int:
    """Write translated section titles as questions whose answer lies in known English sections.

    Each JSONL line: ``id``, ``question``, ``lang``, ``expected_sources`` (corpus ids, i.e. the
    ``doc_id`` of ingested chunks) and ``reference`` (the opening of the English section).
    Returns the number of questions written.
    """
    suffix, english, translated, _ = _load_pair(lang, cache_dir, progress)
    dataset, _ = build_dataset(english, translated, suffix=suffix, variant="titles")
    lines = []
    for qid in _spread(list(dataset.queries), limit):
        query, sources = dataset.queries[qid], list(dataset.qrels[qid])
        record = {
            "id": qid,
            "question": query.text,
            "lang": query.lang,
            "expected_sources": sources,
            "reference": _section_opening(english[qid.split(":", 1)[1]]),
        }
        lines.append(json.dumps(record, ensure_ascii=False))
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return len(lines)
