"""Reading and writing retrieval test sets in the BEIR layout.

BEIR (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``) is what public retrieval
benchmarks ship in, so any of them, and the sets we build ourselves, run through one
evaluation. A broken file stops the load with a message naming the file and line; qrels that
point at unknown ids only warn, because published sets often carry a few of them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from babelrag.stores.errors import BabelragError

CORPUS_FILE = "corpus.jsonl"
QUERIES_FILE = "queries.jsonl"
QRELS_HEADER = ("query-id", "corpus-id", "score")
_LAYOUT_HINT = "a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/test.tsv"


class EvalDataError(BabelragError):
    """An evaluation data set is missing, malformed or cannot be built."""


@dataclass(frozen=True)
class CorpusDoc:
    id: str
    title: str
    text: str
    lang: str | None = None


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    lang: str | None = None


@dataclass
class BeirDataset:
    corpus: dict[str, CorpusDoc]
    queries: dict[str, Query]
    qrels: dict[str, dict[str, int]]  # query id -> corpus id -> graded relevance
    fingerprint: str = ""  # sha256 of the files it was read from: a cache key for runs over it
    warnings: list[str] = field(default_factory=list)

    def judged_query_ids(self) -> list[str]:
        """Queries that can be scored: known, with at least one relevant (score > 0) document."""
        return sorted(
            qid
            for qid, rels in self.qrels.items()
            if qid in self.queries and any(s > 0 for s in rels.values())
        )


def _qrels_name(split: str) -> str:
    return f"qrels/{split}.tsv"


def _read(folder: Path, name: str) -> bytes:
    path = folder / name
    if not path.is_file():
        raise EvalDataError(f"{folder} has no {name}", hint=_LAYOUT_HINT)
    return path.read_bytes()


def _lines(data: bytes, name: str) -> Iterator[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers; not splitlines(), JSON may hold U+2028."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise EvalDataError(f"{name}: not UTF-8 (byte {exc.start})") from None
    found = False
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if line.strip():
            found = True
            yield number, line
    if not found:
        raise EvalDataError(f"{name} is empty")


def _json_objects(data: bytes, name: str) -> Iterator[tuple[int, str, dict[str, object]]]:
    """``(line, _id, object)`` per line; ids are unique and numbers are taken as strings."""
    first_seen: dict[str, int] = {}
    for number, line in _lines(data, name):
        where = f"{name} line {number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalDataError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(obj, dict):
            raise EvalDataError(f"{where}: not a JSON object")
        raw_id = obj.get("_id")
        if isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or not str(raw_id).strip():
            raise EvalDataError(f'{where}: no "_id" (a non-empty string)')
        doc_id = str(raw_id)
        if doc_id in first_seen:
            raise EvalDataError(f'{where}: duplicate "_id" {doc_id!r} (first on line {first_seen[doc_id]})')
        first_seen[doc_id] = number
        if not isinstance(obj.get("text"), str):
            raise EvalDataError(f'{where}: no "text" (a string)')
        yield number, doc_id, obj


def _optional_str(obj: dict[str, object], key: str) -> str | None:
    value = obj.get(key)
    return (value.strip() or None) if isinstance(value, str) else None


def _parse_corpus(data: bytes) -> dict[str, CorpusDoc]:
    corpus: dict[str, CorpusDoc] = {}
    for number, doc_id, obj in _json_objects(data, CORPUS_FILE):
        title = _optional_str(obj, "title") or ""
        text = str(obj["text"]).strip()
        if not text and not title:
            raise EvalDataError(f"{CORPUS_FILE} line {number}: empty document (no text and no title)")
        corpus[doc_id] = CorpusDoc(doc_id, title, text, _optional_str(obj, "lang"))
    return corpus


def _parse_queries(data: bytes) -> dict[str, Query]:
    queries: dict[str, Query] = {}
    for number, qid, obj in _json_objects(data, QUERIES_FILE):
        text = str(obj["text"]).strip()
        if not text:
            raise EvalDataError(f'{QUERIES_FILE} line {number}: empty "text"')
        queries[qid] = Query(qid, text, _optional_str(obj, "lang"))
    return queries


def _parse_qrels(data: bytes, name: str) -> tuple[dict[str, dict[str, int]], dict[tuple[str, str], int]]:
    """Judgments, and the line of each (query, document) pair for warnings about it."""
    qrels: dict[str, dict[str, int]] = {}
    lines: dict[tuple[str, str], int] = {}
    rows = _lines(data, name)
    number, header = next(rows)
    if tuple(cell.strip().lower() for cell in header.split("\t")) != QRELS_HEADER:
        raise EvalDataError(
            f"{name} line {number}: expected the header 'query-id<TAB>corpus-id<TAB>score', got {header!r}"
        )
    for number, line in rows:
        cells = [cell.strip() for cell in line.split("\t")]
        if len(cells) != 3 or not cells[0] or not cells[1]:
            raise EvalDataError(f"{name} line {number}: expected 3 tab-separated columns, got {line!r}")
        try:
            score = int(cells[2])
        except ValueError:
            raise EvalDataError(f"{name} line {number}: score {cells[2]!r} is not an integer") from None
        qrels.setdefault(cells[0], {})[cells[1]] = score
        lines.setdefault((cells[0], cells[1]), number)
    if not qrels:
        raise EvalDataError(f"{name} has a header but no judgments")
    return qrels, lines


def _check_references(
    qrels: dict[str, dict[str, int]],
    lines: dict[tuple[str, str], int],
    corpus: dict[str, CorpusDoc],
    queries: dict[str, Query],
    name: str,
) -> tuple[dict[str, dict[str, int]], list[str]]:
    """Qrels without unknown ids, and a warning (file and line) per dropped reference or query."""
    kept: dict[str, dict[str, int]] = {}
    warnings: list[str] = []
    for qid, rels in qrels.items():
        first = f"{name} line {lines[qid, next(iter(rels))]}"
        if qid not in queries:
            warnings.append(f"{first}: query {qid!r} is not in {QUERIES_FILE}; its judgments are ignored")
            continue
        for doc in rels:
            if doc not in corpus:
                warnings.append(f"{name} line {lines[qid, doc]}: document {doc!r} is not in {CORPUS_FILE}")
        known = {doc: score for doc, score in rels.items() if doc in corpus}
        if not any(score > 0 for score in known.values()):
            warnings.append(f"{first}: query {qid!r} has no relevant document in {CORPUS_FILE}; dropped")
            continue
        kept[qid] = known
    if not kept:
        raise EvalDataError(f"{name}: no judged query is left once unknown ids are dropped")
    return kept, warnings


def load_beir(path: Path, *, split: str = "test") -> BeirDataset:
    """Load and check a BEIR folder; ``warnings`` lists the qrels that were ignored."""
    path = Path(path)
    if not path.is_dir():
        raise EvalDataError(f"{path}: no such folder", hint=_LAYOUT_HINT)
    qrels_name = _qrels_name(split)
    raw = {name: _read(path, name) for name in (CORPUS_FILE, QUERIES_FILE, qrels_name)}
    corpus = _parse_corpus(raw[CORPUS_FILE])
    queries = _parse_queries(raw[QUERIES_FILE])
    qrels, lines = _parse_qrels(raw[qrels_name], qrels_name)
    qrels, warnings = _check_references(qrels, lines, corpus, queries, qrels_name)
    return BeirDataset(corpus, queries, qrels, fingerprint=_fingerprint(raw), warnings=warnings)


def _fingerprint(raw: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(raw):
        digest.update(f"{name}\0{len(raw[name])}\0".encode())
        digest.update(raw[name])
    return digest.hexdigest()


def _jsonl(rows: list[dict[str, object]]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")


def write_beir(dataset: BeirDataset, path: Path, *, split: str = "test") -> str:
    """Write ``dataset`` as a BEIR folder (ids must not hold tabs or line ends); returns its fingerprint."""
    bad = [
        i for ids in (dataset.qrels, *dataset.qrels.values()) for i in ids if any(c in i for c in "\t\r\n")
    ]
    if bad:
        raise EvalDataError(f"ids cannot hold tabs or line ends in {_qrels_name(split)}: {bad[0]!r}")
    corpus = [
        {"_id": d.id, "title": d.title, "text": d.text, **({"lang": d.lang} if d.lang else {})}
        for d in dataset.corpus.values()
    ]
    queries = [
        {"_id": q.id, "text": q.text, **({"lang": q.lang} if q.lang else {})}
        for q in dataset.queries.values()
    ]
    rows = ["\t".join(QRELS_HEADER)] + [
        f"{qid}\t{doc}\t{score}" for qid, rels in dataset.qrels.items() for doc, score in rels.items()
    ]
    raw = {
        CORPUS_FILE: _jsonl(corpus),
        QUERIES_FILE: _jsonl(queries),
        _qrels_name(split): ("\n".join(rows) + "\n").encode("utf-8"),
    }
    path = Path(path)
    (path / "qrels").mkdir(parents=True, exist_ok=True)
    for name, data in raw.items():
        (path / name).write_bytes(data)
    return _fingerprint(raw)
