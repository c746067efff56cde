"""DBpedia abstracts to documents: one per resource, language and kind (long or short abstract).

DBpedia publishes ``long-abstracts`` (``dbo:abstract``) and ``short-abstracts`` (``rdfs:comment``)
one language per file, as ``.ttl`` / ``.ttl.bz2`` that are N-Triples: one triple a line. Where
``owl:sameAs`` lines link a resource to a Wikidata entity (the ``wikidata-links`` /
``sameas-all-wikis`` files, or lines in the same file), the documents carry that QID as their
``entity``, so they group with the Wikidata documents of the same thing.

Our own line parser rather than rdflib: rdflib builds a graph in memory and reports no line
numbers, while these files are streamed one triple at a time and a bad line must be named.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from urllib.parse import unquote

from babelrag.stores.dumps import MAX_REPORTED, DiskSet, RecordGroup, open_lines
from babelrag.stores.errors import UnreadableFileError
from babelrag.stores.langdetect import normalize_language_code
from babelrag.stores.loaders import make_document

ABSTRACT = "http://dbpedia.org/ontology/abstract"
COMMENT = "http://www.w3.org/2000/01/rdf-schema#comment"
SAME_AS = "http://www.w3.org/2002/07/owl#sameAs"
_KINDS = {ABSTRACT: "long", COMMENT: "short"}
_WIKIDATA = re.compile(r"^https?://(?:www\.)?wikidata\.org/entity/(Q\d+)$")

_TERM = r'<[^<>"{}|^`\\\s]*>|_:\S+'
_LITERAL = r'"((?:[^"\\]|\\.)*)"(?:@([A-Za-z]+(?:-[A-Za-z0-9]+)*)|\^\^<[^>]*>)?'
_TRIPLE = re.compile(rf"^\s*({_TERM})\s+<([^>]*)>\s+(?:({_TERM})|{_LITERAL})\s*\.\s*(?:#.*)?$")
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|[tbnrf\"'\\])")
_SIMPLE = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


def unescape(text: str) -> str:
    """An N-Triples string's escapes (``\\"``, ``\\n``, ``\\u00e9``, ``\\U0001F600``) resolved;
    surrogate pairs written as two ``\\u`` escapes are joined."""
    if "\\" not in text:
        return text
    out = _ESCAPE.sub(lambda m: _SIMPLE.get(m[1]) or chr(int(m[1][1:], 16)), text)
    if any("\ud800" <= ch <= "\udfff" for ch in out):
        out = out.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return out


def parse_triple(line: str) -> tuple[str, str, str, str | None, bool] | None:
    """``(subject, predicate, object, language, object is a literal)``, or None if not a triple."""
    match = _TRIPLE.match(line)
    if not match:
        return None
    subject, predicate, iri, literal, lang = match.groups()
    if iri is not None:
        return subject.strip("<>"), predicate, iri.strip("<>"), None, False
    return subject.strip("<>"), predicate, unescape(literal), lang, True


def _problem(line: str) -> str | None:
    """Why a non-blank line is not one we read, or None for comments."""
    if line.lstrip().startswith("#"):
        return None
    if line.lstrip().startswith(("@prefix", "@base", "PREFIX", "BASE")):
        return "Turtle prefixes are not supported; DBpedia's dumps are N-Triples (one full triple a line)"
    return "not an N-Triples line (<subject> <predicate> object .)"


def collect_links(paths: Sequence[Path], advance: Callable[[int], None], work_dir: Path | None) -> DiskSet:
    """Every ``owl:sameAs`` link from a resource to a Wikidata entity in the files, kept on disk.

    A file that cannot be read is passed over here: reading its abstracts reports it.
    """
    links = DiskSet(work_dir)
    for path in paths:
        batch: list[tuple[str, str, str]] = []
        try:
            with open_lines(path, advance) as lines:
                for line in lines:
                    if "sameAs" not in line or "wikidata.org" not in line:
                        continue
                    triple = parse_triple(line)
                    if triple and triple[1] == SAME_AS and (qid := _WIKIDATA.match(triple[2])):
                        batch.append((triple[0], "qid", qid.group(1)))
                        if len(batch) >= 10_000:
                            links.put(batch)
                            batch.clear()
        except (OSError, UnreadableFileError):
            pass
        links.put(batch)
    return links


class DbpediaReader:
    """Record groups of one abstracts file: one document per resource, language and kind."""

    def __init__(self, path: Path, *, links: DiskSet | None = None, languages: Sequence[str] = ()) -> None:
        self.path = path
        self.links = links
        self.languages = frozenset(languages)
        self.warnings: list[str] = []
        self.link_count = 0

    def passes(self) -> int:
        return 1

    def groups(self, advance: Callable[[int], None]) -> Iterator[RecordGroup]:
        checked = False
        skipped = 0
        unknown: set[str] = set()
        with open_lines(self.path, advance) as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                triple = parse_triple(line)
                if triple is None:
                    problem = _problem(line)
                    if problem is None:
                        continue
                    if not checked:
                        raise UnreadableFileError(
                            self.path, f"not a DBpedia N-Triples file: line {number}: {problem}"
                        )
                    skipped += 1
                    if skipped <= MAX_REPORTED:
                        self.warnings.append(f"line {number}: {problem}; skipped")
                    continue
                checked = True
                subject, predicate, value, tag, is_literal = triple
                if predicate == SAME_AS and _WIKIDATA.match(value):
                    self.link_count += 1
                if predicate not in _KINDS or not is_literal or not value.strip():
                    continue
                lang = self._language(tag, unknown)
                if lang is not None:
                    yield self._group(subject, _KINDS[predicate], lang, value)
        if skipped > MAX_REPORTED:
            self.warnings.append(f"{skipped - MAX_REPORTED} more malformed lines skipped")
        if unknown:
            self.warnings.append(
                f"abstracts in languages babelrag does not know were left out: {sorted(unknown)}"
            )

    def _language(self, tag: str | None, unknown: set[str]) -> str | None:
        if not tag:
            return None
        try:
            lang = normalize_language_code(tag)
        except ValueError:
            unknown.add(tag)
            return None
        return lang if not self.languages or lang in self.languages else None

    def _group(self, resource: str, kind: str, lang: str, text: str) -> RecordGroup:
        qid = self.links.values([resource]).get(resource, {}).get("qid") if self.links else None
        metadata = {
            "resource": resource,
            "entity": f"wikidata:{qid}" if qid else resource,
            "abstract": kind,
            **({"qid": qid} if qid else {}),
        }
        title = unquote(resource.rstrip("/").rsplit("/", 1)[-1]).replace("_", " ") or resource
        document = make_document(text, title=title, metadata=metadata, lang=lang)
        return RecordGroup(f"{resource}#{kind}-abstract@{lang}", [document])
