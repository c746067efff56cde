"""Parallel sentences from gettext message catalogs: the English ``msgid`` and its translation.

Debian packages ship compiled catalogs (``.mo``) for dozens of languages; the machine's own
``/usr/share/locale`` holds tens of thousands of usable pairs per language, and ``dpkg -x`` of
more packages adds to them (``--from DIR``). The standard library's ``gettext`` parses them. What
is kept is what reads as a sentence or phrase on both sides: format-only strings, placeholders,
markup, very short or very long strings and untranslated copies are dropped, pairs are
deduplicated, and each keeps the catalog (text domain) it came from. Debian Reference, our
evaluation corpus, is never used.

Dictionary terms come from dictd dictionaries (FreeDict's ``freedict-deu-eng`` and its siblings,
``apt-get download dict-freedict-deu-eng``): UI sentences rarely hold a compound such as
*Datensicherung* → backup often enough to teach it. A term is kept only when its headword occurs
in that language's catalog strings and its English sense in the English ones, so what is added is
the vocabulary of the same software. The dictd format is read here (base64 offsets into a gzip
file): no maintained Python package reads it.
"""

from __future__ import annotations

import csv
import gettext
import gzip
import re
import string
import zlib
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


#: what the source column of a dictionary term starts with (the rest: the dictionary's name)
DICTIONARY_SOURCE = "dictionary:"
#: ISO 639-3 codes in FreeDict file names (``freedict-deu-eng``) -> the codes the CLI takes
_ISO3 = {
    "ara": "ar", "ces": "cs", "dan": "da", "deu": "de", "ell": "el", "fin": "fi", "fra": "fr", "gle": "ga",
    "hin": "hi", "hrv": "hr", "hun": "hu", "ita": "it", "jpn": "ja", "kor": "ko", "lat": "la", "lit": "lt",
    "nld": "nl", "nor": "no", "pol": "pl", "por": "pt", "ron": "ro", "rus": "ru", "slk": "sk", "slv": "sl",
    "spa": "es", "srp": "sr", "swe": "sv", "tur": "tr", "ukr": "uk", "zho": "zh-cn",
}  # fmt: skip
_CJK = ("ja", "zh", "ko")  # no spaces between words: a headword is looked for as a substring
_SENSE = re.compile(r"[a-z][a-z -]*")
_NOTE_LINE = ("Synonym", "Antonym", "Note:", "see:", "Example:", "Usage:")


@dataclass
class ParallelReport:
    pairs: dict[str, int] = field(default_factory=dict)  # language -> pairs kept
    terms: dict[str, int] = field(default_factory=dict)  # language -> dictionary terms kept
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


def stratum(row: tuple[str, str, str, str]) -> str:
    """What a row is sampled with: its language, or ``<lang> terms`` for a dictionary term."""
    return f"{row[0]} terms" if row[3].startswith(DICTIONARY_SOURCE) else row[0]


def dictionary_language(path: Path) -> str | None:
    """``de`` for ``freedict-deu-eng.dict.dz``; None for a name that does not say (or not into English)."""
    match = re.match(r"freedict-([a-z]{3})-eng\b", path.name)
    return _ISO3.get(match.group(1)) if match else None


def _dictd_name(path: Path) -> str:
    """``freedict-deu-eng`` for ``freedict-deu-eng.dict.dz``: what its index and its rows are named by."""
    return path.name.removesuffix(".dz").removesuffix(".dict")


_DICTD_DIGITS = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"  # base64's


def _b64(text: str) -> int:
    """A dictd index number: base 64 in base64's digits, most significant first."""
    n = 0
    for char in text:
        n = n * 64 + _DICTD_DIGITS.index(char)
    return n


def read_dictionary(path: Path) -> Iterator[tuple[str, frozenset[str], list[str]]]:
    """(headword, grammar tags, English senses of its first sense line) for each entry of a dictd
    dictionary: ``NAME.dict.dz`` (or ``.dict``) with its ``NAME.index`` beside it."""
    index = path.with_name(f"{_dictd_name(path)}.index")
    try:
        opener = gzip.open if path.name.endswith(".dz") else open
        with opener(path, "rb") as handle:
            data = handle.read()
        lines = index.read_text(encoding="utf-8").splitlines()
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:
        raise BabelragError(
            f"cannot read the dictionary {path}: {getattr(exc, 'strerror', None) or exc}",
            hint=f"a dictd dictionary is NAME.dict.dz with NAME.index beside it ({index.name})",
        ) from exc
    for line in lines:
        parts = line.split("\t")
        if len(parts) < 3 or parts[0].startswith(("00-database", "00database")):
            continue
        try:
            start, length = _b64(parts[1]), _b64(parts[2])
        except ValueError:
            continue
        text = data[start : start + length].decode("utf-8", "replace").split("\n")
        head = text[0].strip()
        shown = re.split(r" /| <", head, maxsplit=1)[0].strip()
        headword = shown if shown.casefold() == parts[0].casefold() else parts[0]
        tags = re.search(r"<([^>]*)>\s*$", head)
        senses: list[str] = []
        for raw in text[1:]:
            sense_line = re.sub(r"^\d+\.\s*", "", raw.strip())
            if not sense_line or sense_line.startswith(_NOTE_LINE):
                continue
            sense_line = re.sub(r"\[[^\]]*\]|<[^>]*>|\{[^}]*\}|\((?:[^()]|\([^()]*\))*\)", " ", sense_line)
            senses = [" ".join(part.split()) for part in re.split(r"[,;]", sense_line) if part.strip()]
            if senses:
                break
        yield (
            headword,
            frozenset(t.strip() for t in tags.group(1).split(",")) if tags else frozenset(),
            senses,
        )


def dictionary_terms(
    path: Path, lang: str, rows: Sequence[tuple[str, str, str, str]], *, min_chars: int = 6
) -> list[tuple[str, str, str, str]]:
    """(lang, English sense, headword, ``dictionary:NAME``) rows for the entries of a dictionary
    whose headword occurs in the ``lang`` translations of ``rows`` and whose first English sense
    that does (1-3 words) occurs in their English side: the software's own vocabulary. Singular
    headwords only, one sense each, none that is its own translation."""
    grams: set[str] = set()
    vocabulary: set[str] = set()
    cjk = lang.split("-")[0].lower() in _CJK
    for row_lang, english, translation, _source in rows:
        words = re.findall(r"[a-z][a-z-]*", english.lower())
        for n in (1, 2, 3):
            grams.update(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
        if row_lang != lang:
            continue
        if cjk:  # every substring up to 8 characters
            text = translation.casefold()
            vocabulary.update(text[i : i + n] for n in range(2, 9) for i in range(len(text) - n + 1))
        else:
            vocabulary.update(word.casefold() for word in re.findall(r"\w+", translation))
    source = f"{DICTIONARY_SOURCE}{_dictd_name(path)}"
    kept: dict[str, tuple[str, str, str, str]] = {}
    for headword, tags, senses in read_dictionary(path):
        key = headword.casefold()
        if key in kept or "pl" in tags or key not in vocabulary:
            continue
        if not cjk and (" " in headword or len(headword) < min_chars):
            continue
        for sense in senses:
            english = sense.lower()
            if (
                len(english) >= 4
                and len(english.split()) <= 3
                and _SENSE.fullmatch(english)
                and english in grams
            ):
                if english != key:
                    kept[key] = (lang, english, headword, source)
                break
    return list(kept.values())


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
