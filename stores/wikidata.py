"""Wikidata JSON dumps to documents: one per entity and language, statements as sentences.

The dump (``latest-all.json.gz`` / ``.bz2``, or plain) is one JSON array with an entity per line,
each line but the last ending in ``,``. Statements name other entities by id (``P569``, ``Q5``),
whose labels stand elsewhere in the dump, often *after* the statement. Two streaming passes
resolve them in flat memory:

1. select the entities the filter keeps and note every id they reference in a :class:`DiskSet`
   (SQLite in a temporary file), keeping the labels of referenced entities met after the
   reference;
2. keep the labels of referenced entities met before it (now that the set is complete), and render
   each selected entity, whose referenced labels are by then all on disk.

Memory holds one entity at a time; the disk holds the referenced ids and their labels in the
languages rendered. A label missing in a language falls back to the ``mul`` label, then English,
then the bare id: a sentence with "Q5" in it still says more than no sentence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from babelrag.stores.dumps import MAX_REPORTED, DiskSet, RecordGroup, open_lines
from babelrag.stores.errors import ConfigError, UnreadableFileError
from babelrag.stores.langdetect import normalize_language_code
from babelrag.stores.loaders import make_document

ENTITY_URL = "https://www.wikidata.org/wiki/"
_ID = re.compile(r"^[QP]\d+$")
#: Datatypes that say nothing a reader (or an embedder) can use: identifiers, files, formulas.
_SKIPPED_DATATYPES = frozenset(
    {"external-id", "commonsMedia", "url", "geo-shape", "tabular-data", "math", "musical-notation",
     "wikibase-lexeme", "wikibase-form", "wikibase-sense", "entity-schema"}
)  # fmt: skip
_MAX_VALUES = 10  # per property; "and N more" after


@dataclass(frozen=True)
class WikidataFilter:
    """Which entities of a dump become documents; every given condition must hold.

    Written on the command line as ``P31:Q5,Q515`` (instance of one of), ``P279:Q7725634``
    (subclass of one of), ``sitelink:enwiki,dewiki`` or ``sitelink`` (any Wikipedia article),
    ``ids:FILE`` (one QID a line). Class membership is the direct P31/P279 statement, not its
    closure: the closure needs the whole class tree, which a stream does not have in advance.
    """

    instance_of: frozenset[str] = frozenset()
    subclass_of: frozenset[str] = frozenset()
    sitelinks: frozenset[str] | None = None  # empty: any sitelink
    ids: frozenset[str] | None = None

    @classmethod
    def parse(cls, specs: Sequence[str]) -> WikidataFilter:
        found: dict[str, Any] = {}
        for spec in specs:
            kind, _, value = spec.strip().partition(":")
            kind = kind.strip().lower()
            values = frozenset(v.strip().upper() for v in value.split(",") if v.strip())
            if kind in ("p31", "instance-of"):
                found["instance_of"] = found.get("instance_of", frozenset()) | _qids(values, spec)
            elif kind in ("p279", "subclass-of"):
                found["subclass_of"] = found.get("subclass_of", frozenset()) | _qids(values, spec)
            elif kind in ("sitelink", "sitelinks"):
                found["sitelinks"] = frozenset(v.lower() for v in values)
            elif kind == "ids" and value.strip():
                found["ids"] = _read_ids(Path(value.strip()).expanduser())
            else:
                raise ConfigError(
                    f"unknown --wikidata-filter {spec!r}",
                    hint="use P31:Q5 (instance of), P279:Q515 (subclass of), sitelink[:enwiki] or ids:FILE",
                )
        return cls(**found)

    def keeps(self, entity: Mapping[str, Any]) -> bool:
        if entity.get("type") != "item":
            return False
        if self.ids is not None and entity.get("id") not in self.ids:
            return False
        claims = entity.get("claims") or {}
        if self.instance_of and not self.instance_of & _item_values(claims, "P31"):
            return False
        if self.subclass_of and not self.subclass_of & _item_values(claims, "P279"):
            return False
        if self.sitelinks is not None:
            sites = set(entity.get("sitelinks") or {})
            return bool(sites & self.sitelinks) if self.sitelinks else bool(sites)
        return True


def _qids(values: frozenset[str], spec: str) -> frozenset[str]:
    bad = sorted(v for v in values if not _ID.match(v))
    if bad or not values:
        raise ConfigError(
            f"--wikidata-filter {spec!r}: expected Wikidata ids such as Q5, got {bad or 'none'}"
        )
    return values


def _read_ids(path: Path) -> frozenset[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the id list {path}: {exc.strerror or exc}") from exc
    ids = frozenset(m.group(0).upper() for m in re.finditer(r"(?i)\bQ\d+\b", text))
    if not ids:
        raise ConfigError(f"the id list {path} holds no Wikidata ids (Q42, one a line)")
    return ids


def _item_values(claims: Mapping[str, Any], prop: str) -> set[str]:
    out = set()
    for statement in claims.get(prop) or []:
        value = ((statement.get("mainsnak") or {}).get("datavalue") or {}).get("value")
        if isinstance(value, dict) and isinstance(value.get("id"), str):
            out.add(value["id"])
    return out


class WikidataReader:
    """Record groups (one per selected entity: its documents per language) of one dump file."""

    def __init__(
        self,
        path: Path,
        *,
        keep: WikidataFilter | None = None,
        languages: Sequence[str] = (),
        work_dir: Path | None = None,
    ) -> None:
        self.path = path
        self.keep = keep or WikidataFilter()
        self.languages = frozenset(languages)  # ISO 639-1; empty: every language babelrag knows
        self.work_dir = work_dir
        self.warnings: list[str] = []
        self.unknown_languages: set[str] = set()

    def passes(self) -> int:
        return 2

    def groups(self, advance: Callable[[int], None]) -> Iterator[RecordGroup]:
        labels = DiskSet(self.work_dir)
        try:
            selected = 0
            for entity in self._entities(advance, report=True):
                if self.keep.keeps(entity):
                    selected += 1
                    labels.add_keys(_references(entity))
                if labels.has_key(entity["id"]):
                    labels.put(self._label_rows(entity))
            if not selected:
                return
            for entity in self._entities(advance, report=False):
                if labels.has_key(entity["id"]) and not labels.has_values(entity["id"]):
                    labels.put(self._label_rows(entity))
                if self.keep.keeps(entity):
                    known = labels.values(_references(entity))
                    group = self._render(entity, known)
                    if group.documents:
                        yield group
        finally:
            labels.close()
        if self.unknown_languages:
            unknown = sorted(self.unknown_languages)
            shown = ", ".join(unknown[:12]) + (f" and {len(unknown) - 12} more" if len(unknown) > 12 else "")
            self.warnings.append(f"texts in languages babelrag does not know were left out: {shown}")

    # -- reading ---------------------------------------------------------------------------
    def _entities(self, advance: Callable[[int], None], *, report: bool) -> Iterator[dict[str, Any]]:
        checked = False
        skipped = 0
        with open_lines(self.path, advance) as lines:
            for number, line in enumerate(lines, 1):
                body = line.strip().rstrip(",").strip()
                if body in ("", "[", "]"):
                    continue
                try:
                    entity = json.loads(body)
                    problem = None if _is_entity(entity) else "not a Wikidata entity (no id and type)"
                except json.JSONDecodeError as exc:
                    entity, problem = None, f"not valid JSON ({exc.msg} at column {exc.colno})"
                if not checked:
                    checked = True
                    if problem:
                        raise UnreadableFileError(
                            self.path,
                            f"not a Wikidata JSON dump: line {number} is {problem}; expected one entity "
                            'object a line such as {"type": "item", "id": "Q42", "labels": {…}, …}',
                        )
                if problem:
                    skipped += 1
                    if report and skipped <= MAX_REPORTED:
                        self.warnings.append(f"line {number}: {problem}; skipped")
                    continue
                yield entity
        if report and skipped > MAX_REPORTED:
            self.warnings.append(f"{skipped - MAX_REPORTED} more malformed lines skipped")

    def _label_rows(self, entity: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        labels = _texts(entity.get("labels"))
        keep = {code for code in labels if code in ("mul", "en") or self._language(code) is not None}
        return [(entity["id"], code, labels[code]) for code in keep]

    def _language(self, code: str) -> str | None:
        """The ISO 639-1 code a Wikidata language code renders as, or None (unknown or not asked)."""
        if code == "mul":
            return None
        try:
            lang = normalize_language_code(code)
        except ValueError:
            self.unknown_languages.add(code)
            return None
        return lang if not self.languages or lang in self.languages else None

    # -- rendering -------------------------------------------------------------------------
    def _render(self, entity: Mapping[str, Any], known: Mapping[str, Mapping[str, str]]) -> RecordGroup:
        qid = entity["id"]
        labels = _texts(entity.get("labels"))
        descriptions = _texts(entity.get("descriptions"))
        aliases = {
            code: [a.get("value") for a in items if isinstance(a, dict) and a.get("value")]
            for code, items in (entity.get("aliases") or {}).items()
            if isinstance(items, list)
        }
        by_lang: dict[str, list[str]] = {}  # our language -> its Wikidata codes, exact code first
        for code in sorted({*labels, *descriptions, *aliases}):
            if (lang := self._language(code)) is not None:
                by_lang.setdefault(lang, []).append(code)
        sitelinks = entity.get("sitelinks") or {}
        claims = {prop: _best(statements) for prop, statements in (entity.get("claims") or {}).items()}
        documents = []
        for lang, codes in sorted(by_lang.items()):
            codes.sort(key=lambda c: (c != lang, c))
            page = _View(codes, labels, descriptions, aliases, known)
            title = page.own_label(qid)
            text = "\n".join(page.lines(title, claims))
            sites = (f"{c.replace('-', '_')}wiki" for c in dict.fromkeys([lang, *codes]))
            site = next((sitelinks[s] for s in sites if s in sitelinks), None)
            metadata: dict[str, str] = {"qid": qid, "entity": f"wikidata:{qid}", "url": ENTITY_URL + qid}
            if isinstance(site, dict) and site.get("title"):
                metadata["sitelink"] = str(site["title"])
            documents.append(make_document(text, title=title, metadata=metadata, lang=lang))
        return RecordGroup(f"wikidata:{qid}", documents)


@dataclass
class _View:
    """One entity seen in one language: its own texts and its references' labels, with fallbacks."""

    codes: list[str]
    labels: Mapping[str, str]
    descriptions: Mapping[str, str]
    aliases: Mapping[str, list[str]]
    known: Mapping[str, Mapping[str, str]]
    _fallback: tuple[str, ...] = field(default=("mul", "en"))

    def _pick(self, texts: Mapping[str, Any], *, fallback: bool) -> Any:
        for code in (*self.codes, *(self._fallback if fallback else ())):
            if texts.get(code):
                return texts[code]
        return None

    def own_label(self, qid: str) -> str:
        return self._pick(self.labels, fallback=True) or qid

    def label(self, ref: str) -> str:
        return self._pick(self.known.get(ref, {}), fallback=True) or ref

    def lines(self, title: str, claims: Mapping[str, list[dict[str, Any]]]) -> list[str]:
        """The document's text; ``claims`` are each property's statements already ranked (:func:`_best`)."""
        description = self._pick(self.descriptions, fallback=False)
        lines = [f"{title}: {description}." if description else f"{title}."]
        if alias := self._pick(self.aliases, fallback=False):
            lines.append(f"{title} ({'; '.join(alias)}).")
        for prop, statements in claims.items():
            values = [v for s in statements if (v := self._value(s.get("mainsnak") or {}))]
            values = list(dict.fromkeys(values))
            if not values:
                continue
            more = len(values) - _MAX_VALUES
            shown = ", ".join(values[:_MAX_VALUES]) + (f" (+{more})" if more > 0 else "")
            lines.append(f"{title} – {self.label(prop)}: {shown}.")
        return lines

    def _value(self, snak: Mapping[str, Any]) -> str | None:
        if snak.get("datatype") in _SKIPPED_DATATYPES or snak.get("snaktype") != "value":
            return None
        data = snak.get("datavalue") or {}
        value, kind = data.get("value"), data.get("type")
        if kind == "wikibase-entityid" and isinstance(value, dict) and isinstance(value.get("id"), str):
            return self.label(value["id"])
        if kind == "string" and isinstance(value, str):
            return value
        if kind == "monolingualtext" and isinstance(value, dict):
            return value.get("text") if value.get("language") in (*self.codes, "mul") else None
        if kind == "time" and isinstance(value, dict):
            return _time(value)
        if kind == "quantity" and isinstance(value, dict):
            amount = str(value.get("amount", "")).lstrip("+")
            unit = str(value.get("unit", "1")).rsplit("/", 1)[-1]
            return f"{amount} {self.label(unit)}" if _ID.match(unit) else amount
        if kind == "globecoordinate" and isinstance(value, dict):
            return f"{value.get('latitude')}, {value.get('longitude')}"
        return None


def _best(statements: Any) -> list[dict[str, Any]]:
    """Preferred statements if there are any, else the normal ones; deprecated ones never."""
    usable = [s for s in statements or [] if isinstance(s, dict) and s.get("rank") != "deprecated"]
    preferred = [s for s in usable if s.get("rank") == "preferred"]
    return preferred or usable


def _time(value: Mapping[str, Any]) -> str | None:
    match = re.match(r"^([+-])(\d+)-(\d\d)-(\d\d)", str(value.get("time", "")))
    if not match:
        return None
    sign, year, month, day = match.groups()
    precision = int(value.get("precision", 11))
    year_text = str(int(year)) + (" BCE" if sign == "-" else "")
    if precision >= 11 and sign == "+":
        return f"{int(year):04d}-{month}-{day}"
    if precision == 10 and sign == "+":
        return f"{int(year):04d}-{month}"
    if precision == 8:
        return f"{int(year) // 10 * 10}s" + (" BCE" if sign == "-" else "")
    return year_text


def _texts(field_value: Any) -> dict[str, str]:
    """``{code: value}`` of a labels or descriptions object."""
    if not isinstance(field_value, dict):
        return {}
    return {
        code: item["value"]
        for code, item in field_value.items()
        if isinstance(item, dict) and isinstance(item.get("value"), str) and item["value"].strip()
    }


def _references(entity: Mapping[str, Any]) -> set[str]:
    """The ids an entity's rendered statements name: properties, item values, units."""
    refs: set[str] = set()
    for prop, statements in (entity.get("claims") or {}).items():
        refs.add(prop)
        for statement in _best(statements):
            value = (((statement.get("mainsnak") or {}).get("datavalue")) or {}).get("value")
            if isinstance(value, dict):
                if isinstance(value.get("id"), str):
                    refs.add(value["id"])
                unit = str(value.get("unit", "")).rsplit("/", 1)[-1]
                if _ID.match(unit):
                    refs.add(unit)
    return refs


def _is_entity(value: object) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("id"), str)
        and value.get("type") in ("item", "property", "lexeme", "mediainfo")
    )


def looks_like_wikidata(first_lines: Sequence[str]) -> bool:
    """Whether the opening lines of a ``.jsonl`` file are Wikidata entities (not text records)."""
    for line in first_lines:
        body = line.strip().rstrip(",")
        if body in ("", "["):
            continue
        try:
            return _is_entity(json.loads(body))
        except json.JSONDecodeError:
            return False
    return False
