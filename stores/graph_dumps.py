"""Which files are knowledge-graph dumps, and the readers that stream them.

A file is read as a Wikidata dump when its name (less ``.gz`` / ``.bz2``) ends in ``.json``, or in
``.jsonl`` and its first entity line is a Wikidata entity; as DBpedia N-Triples when it ends in
``.ttl`` or ``.nt``. ``DumpOptions.format`` forces one reading for every dump given.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from babelrag.stores.dbpedia import DbpediaReader, collect_links
from babelrag.stores.dumps import RecordReader, open_lines, stem
from babelrag.stores.errors import UnreadableFileError
from babelrag.stores.loaders import SUPPORTED_SUFFIXES
from babelrag.stores.progress import Progress
from babelrag.stores.wikidata import WikidataFilter, WikidataReader, looks_like_wikidata

FORMATS = ("auto", "wikidata", "dbpedia")


@dataclass(frozen=True)
class DumpOptions:
    """How dumps are read: forced format, the Wikidata selection, the languages kept, scratch space."""

    format: str = "auto"
    wikidata_filter: WikidataFilter = field(default_factory=WikidataFilter)
    languages: tuple[str, ...] = ()  # ISO 639-1 codes; empty: every language babelrag knows
    work_dir: Path | None = None  # for the temporary label and link indexes (default: system temp)

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"dump format must be one of {FORMATS}, got {self.format!r}")


def dump_kind(path: Path, forced: str = "auto") -> str | None:
    """``"wikidata"``, ``"dbpedia"`` or None (an ordinary document file)."""
    name = stem(path).lower()
    if forced != "auto":  # every file but those of a document format
        return None if Path(name).suffix in SUPPORTED_SUFFIXES - {".jsonl"} else forced
    if name.endswith(".json"):
        return "wikidata"
    if name.endswith((".ttl", ".nt")):
        return "dbpedia"
    if name.endswith(".jsonl"):
        try:
            with open_lines(path) as lines:
                return "wikidata" if looks_like_wikidata(list(islice(lines, 3))) else None
        except (OSError, UnreadableFileError):
            return None  # the ordinary loader reports what is wrong with it
    return None


@contextmanager
def dump_readers(
    dumps: Mapping[Path, str], options: DumpOptions, progress: Progress
) -> Iterator[list[RecordReader]]:
    """A reader per dump; the DBpedia ones share the ``owl:sameAs`` links of all DBpedia files
    given, read first (so a links file may come before or after the abstracts)."""
    dbpedia = [path for path, kind in dumps.items() if kind == "dbpedia"]
    links = None
    if dbpedia:
        total = sum(path.stat().st_size for path in dbpedia)
        with progress.task("reading owl:sameAs links", total=total) as task:
            links = collect_links(dbpedia, task.advance, options.work_dir)
    readers: list[RecordReader] = []
    for path, kind in dumps.items():
        if kind == "wikidata":
            readers.append(
                WikidataReader(
                    path, keep=options.wikidata_filter, languages=options.languages, work_dir=options.work_dir
                )
            )
        else:
            readers.append(DbpediaReader(path, links=links, languages=options.languages))
    try:
        yield readers
    finally:
        if links is not None:
            links.close()
