"""Parallel sentences from gettext message catalogs: the English ``msgid`` and its translation.

Debian packages ship compiled catalogs (``.mo``) for dozens of languages; the machine's own
``/usr/share/locale`` holds tens of thousands of usable pairs per language, and ``dpkg -x`` of
more packages adds to them (``--from DIR``). The standard library's ``gettext`` parses them. What
is kept is what reads as a sentence or phrase on both sides: format-only strings, placeholders,
markup, very short or very long strings and untranslated copies are dropped, pairs are
deduplicated, and each keeps the catalog (text domain) it came from. Debian Reference, our
evaluation corpus, is never used.
"""

from __future__ import annotations

import csv
import gettext
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from babelrag.stores.errors import BabelragError
from babelrag.stores.progress import NullProgress, Progress

#: Catalogs never used for training: the evaluation corpus (Debian Reference) and its tools.
EXCLUDED_DOMAINS = frozenset({"debian-reference", "debian-reference-common"})
TSV_COLUMNS = ("lang", "english", "translation", "source")

_PLACEHOLDER = re.compile(
    r"%(?:\(\w+\))?[-+ #0]*(?:\d+|\*)?(?:\.\d+)?[hlLqjzt]*[diouxXeEfFgGcrsaAp%]"  # printf / python %
    r"|\{[^{}\s]*\}"  # {name}, {0}
    r"|\$\{?\w+\}?"  # $VAR, ${VAR}
    r"|%[A-Z][A-Z0-9_]+\b"  # LibreOffice's %PRODUCTNAME, %MOD1
    r"|\$\(\w+\)"  # $(ARG1)
    r"|<[^>]+>"  # markup
    r"|&\w+;"  # entities
)
_MNEMONIC = re.compile(r"(?<=\w)_(?=\w)|(?<!\w)_(?=\w)|&(?=\w)")  # _File, &Open
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


@dataclass
class ParallelReport:
    pairs: dict[str, int] = field(default_factory=dict)  # language -> pairs kept
    catalogs: dict[str, int] = field(default_factory=dict)  # language -> catalogs read
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> count
    unreadable: list[str] = field(default_factory=list)


def locale_names(lang: str) -> list[str]:
    """Locale folder names for a language the user types: ``zh-tw`` -> zh_TW, ``de`` -> de, de_DE."""
    code = lang.strip().replace("-", "_")
    if "_" in code:
        base, region = code.split("_", 1)
        return [f"{base.lower()}_{region.upper()}"]
    return [code.lower(), f"{code.lower()}_{code.upper()}"]


def catalogs(roots: Sequence[Path], lang: str) -> list[Path]:
    """The ``.mo`` files for ``lang`` under each root's ``<locale>/LC_MESSAGES``, sorted."""
    found: dict[str, Path] = {}
    for root in roots:
        for name in locale_names(lang):
            folder = root / name / "LC_MESSAGES"
            if folder.is_dir():
                for path in sorted(folder.glob("*.mo")):
                    found.setdefault(f"{root}:{name}:{path.name}", path)
    return sorted(found.values())


def read_catalog(path: Path) -> dict[str, str]:
    """msgid -> msgstr of one compiled catalog (singular forms; plural entries give their first)."""
    with path.open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)._catalog
    out: dict[str, str] = {}
    for key, value in catalog.items():
        if isinstance(key, tuple):  # (msgid, n) for plural forms
            if key[1] != 0:
                continue
            key = key[0]
        if key and isinstance(value, str):
            out[str(key).split("\x04")[-1]] = value  # drop a msgctxt prefix
    return out


def clean(text: str) -> str:
    return " ".join(_MNEMONIC.sub("", text).split())


def keep_pair(english: str, translation: str, *, min_chars: int = 12, max_chars: int = 300) -> str | None:
    """None if the pair is worth keeping, else why not."""
    if _PLACEHOLDER.search(english) or _PLACEHOLDER.search(translation):
        return "placeholder or markup"
    if len(english) < min_chars or len(translation) < 2:
        return "too short"
    if len(english) > max_chars or len(translation) > 2 * max_chars:
        return "too long"
    if len(english.split()) < 2:
        return "single word"
    if not _LETTER.search(english) or not _LETTER.search(translation):
        return "format only"
    if english.casefold() == translation.casefold():
        return "untranslated"
    return None


def harvest(
    langs: Iterable[str],
    roots: Sequence[Path],
    *,
    max_pairs: int | None = None,
    progress: Progress | None = None,
) -> tuple[list[tuple[str, str, str, str]], ParallelReport]:
    """(lang, english, translation, source) rows for each language, deduplicated per language."""
    progress = progress or NullProgress()
    report = ParallelReport()
    rows: list[tuple[str, str, str, str]] = []
    for lang in langs:
        files = [p for p in catalogs(roots, lang) if p.stem not in EXCLUDED_DOMAINS]
        report.catalogs[lang] = len(files)
        seen: set[str] = set()
        kept = 0
        with progress.task(f"reading {lang} catalogs", total=len(files)) as task:
            for path in files:
                try:
                    entries = read_catalog(path)
                except (OSError, ValueError, UnicodeDecodeError) as exc:
                    report.unreadable.append(f"{path}: {exc}")
                    entries = {}
                for raw_en, raw_tr in entries.items():
                    english, translation = clean(raw_en), clean(raw_tr)
                    why = keep_pair(english, translation)
                    if why is None and english.casefold() in seen:
                        why = "duplicate"
                    if why is not None:
                        report.dropped[why] = report.dropped.get(why, 0) + 1
                        continue
                    seen.add(english.casefold())
                    rows.append((lang, english, translation, path.stem))
                    kept += 1
                    if max_pairs is not None and kept >= max_pairs:
                        break
                task.advance()
                if max_pairs is not None and kept >= max_pairs:
                    break
        report.pairs[lang] = kept
    return rows, report


def write_tsv(rows: Iterable[tuple[str, str, str, str]], path: Path) -> int:
    """Write rows with a header line, atomically; returns how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    n = 0
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        writer.writerow(TSV_COLUMNS)
        for row in rows:
            writer.writerow(row)
            n += 1
    tmp.replace(path)
    return n


def read_tsv(path: Path) -> Iterator[tuple[str, str, str, str]]:
    """Rows of a parallel TSV; a malformed file is an error naming the line."""
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise BabelragError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with handle:
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader, None)
        if header is None:
            raise BabelragError(f"{path} is empty", hint="build one with `babelrag train fetch-parallel`")
        if tuple(header[:3]) != TSV_COLUMNS[:3]:
            raise BabelragError(
                f"{path} line 1: expected the columns {', '.join(TSV_COLUMNS)}, got {header!r}",
                hint="build one with `babelrag train fetch-parallel`",
            )
        for number, row in enumerate(reader, start=2):
            if len(row) < 3 or not row[1].strip() or not row[2].strip():
                raise BabelragError(f"{path} line {number}: expected lang, english, translation; got {row!r}")
            yield (row[0], row[1], row[2], row[3] if len(row) > 3 else "")
