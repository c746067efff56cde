"""A knowledge base as portable JSON Lines: backups, and moves between machines or to a Chroma server.

The first line is a header (format version, knowledge base, embedder id and dimension, chunk
count); each further line one chunk: ``{"id", "text", "metadata", "vector"}``, the vector's floats
written with 9 significant digits, which gives float32 back exactly. Both directions stream a page
at a time, so memory stays flat for any size. An export is written to a temporary file and renamed
when complete: a crash never leaves a truncated backup under the real name. An import upserts by
chunk id, so an interrupted import is finished by running it again, and importing twice changes
nothing. Vectors from one model are meaningless to another: importing into a knowledge base of
another embedder is refused, unless ``reembed`` is given, which embeds the texts anew with it.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from babelrag.stores.context import contextual_text
from babelrag.stores.errors import EmbedderMismatchError, StoreError
from babelrag.stores.ingest import safe_metadata_key, with_settings_hash
from babelrag.stores.knowledge_store import HEADING_OF, SCHEMA_VERSION, KnowledgeStore
from babelrag.stores.progress import NullProgress, Progress

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

    from babelrag.stores.embeddings import TextEmbedder

FORMAT = "babelrag-kb-export"
FORMAT_VERSION = 1
_MAX_WARNINGS = 20


@dataclass(frozen=True)
class ExportReport:
    kb: str
    path: str
    chunks: int
    embedder_id: str | None
    dimension: int | None
    seconds: float


@dataclass
class ImportReport:
    kb: str
    embedder_id: str
    chunks: int = 0
    reembedded: bool = False
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)
    created: bool = False
    seconds: float = 0.0


def export_jsonl(
    store: KnowledgeStore, path: Path, *, progress: Progress | None = None, page: int = 1000
) -> ExportReport:
    """Write every chunk of ``store`` to ``path`` (atomically: a temporary file renamed at the end)."""
    progress = progress or NullProgress()
    started = time.perf_counter()
    meta = store.metadata
    total = store.count()
    header = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "kb": store.name,
        "embedder_id": meta.get("embedder_id"),
        "embedding_dim": meta.get("embedding_dim"),
        "schema": meta.get("babelrag_schema", SCHEMA_VERSION),
        "chunks": total,
        "exported": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path = path.expanduser()
    if path.is_dir():
        raise StoreError(f"{path} is a folder; give the export's file name, e.g. {path / store.name}.jsonl")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from None
    written = 0
    try:
        with (
            os.fdopen(fd, "w", encoding="utf-8") as fh,
            progress.task(f"exporting {store.name}", total=total) as task,
        ):
            fh.write(json.dumps(header, ensure_ascii=False) + "\n")
            for offset in range(0, total, page):
                got = store.collection.get(
                    include=["documents", "metadatas", "embeddings"], limit=page, offset=offset
                )
                for i, cid in enumerate(got["ids"]):
                    fh.write(_chunk_line(cid, got, i))
                    written += 1
                task.advance(len(got["ids"]))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return ExportReport(
        store.name,
        str(path),
        written,
        header["embedder_id"],
        header["embedding_dim"],
        time.perf_counter() - started,
    )


def _chunk_line(cid: str, got: Any, i: int) -> str:
    vectors = got.get("embeddings")
    vector = vectors[i] if vectors is not None else None
    numbers = "null" if vector is None else "[" + ",".join(f"{float(x):.9g}" for x in vector) + "]"
    record = json.dumps(
        {
            "id": cid,
            "text": (got["documents"] or [])[i] or "",
            "metadata": dict((got["metadatas"] or [])[i] or {}),
        },
        ensure_ascii=False,
    )
    return record[:-1] + f', "vector": {numbers}}}\n'


class _StoredIdentity:
    """The embedder a knowledge base was built with, known only by id and dimension: enough to
    create its collection for imported vectors; asking it to embed is a bug."""

    max_tokens = 512

    def __init__(self, model_id: str, dimension: int) -> None:
        self.model_id = model_id
        self.dimension = dimension

    def _no(self, *_: Any) -> Any:
        raise StoreError(f"the embedding model {self.model_id!r} is not loaded; import needs none")

    embed_documents = embed_query = embed_queries = count_tokens = _no


def read_header(path: Path) -> dict[str, Any]:
    """The export's header, checked."""
    with _open(path) as fh:
        first = fh.readline(1_000_000)
    try:
        header = json.loads(first.decode("utf-8"))
    except (ValueError, RecursionError):
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise StoreError(
            f"{path} is not a babelrag knowledge-base export (its first line is no export header)"
        )
    if header.get("version") != FORMAT_VERSION:
        raise StoreError(f"{path} is export format version {header.get('version')!r}; this babelrag reads 1")
    dim = header.get("embedding_dim")
    if not isinstance(header.get("embedder_id"), str) or not isinstance(dim, int) or dim < 1:
        raise StoreError(f"{path}: the header does not say which embedding model made the vectors")
    return header


def import_jsonl(
    client: ClientAPI,
    path: Path,
    *,
    kb: str | None = None,
    reembed: TextEmbedder | None = None,
    fingerprint_hash: Mapping[bool, str] | None = None,
    progress: Progress | None = None,
    batch: int = 256,
) -> ImportReport:
    """Load an export into knowledge base ``kb`` (default: the name it was exported from).

    With ``reembed`` the stored vectors are ignored and the texts embedded with it, and chunk
    fingerprints get ``fingerprint_hash[has a context header]`` as ``kb reembed`` does; otherwise
    the target must use the export's embedder, or not exist yet.
    """
    progress = progress or NullProgress()
    started = time.perf_counter()
    header = read_header(path)
    name = kb or str(header.get("kb") or "")
    source_id, dim = header["embedder_id"], header["embedding_dim"]
    embedder: Any = reembed or _StoredIdentity(source_id, dim)
    existed = name in {c.name.removeprefix("kb-") for c in client.list_collections()}
    try:
        store = KnowledgeStore(client=client, name=name, embedder=embedder, create=True)
    except EmbedderMismatchError:
        raise EmbedderMismatchError(
            f"knowledge base {name!r} uses another embedding model than the export ({source_id!r})",
            hint="import into a new knowledge base with --kb NAME, or add --reembed to embed the texts "
            "with the configured model (which must be the knowledge base's)",
        ) from None
    report = ImportReport(
        kb=name, embedder_id=embedder.model_id, reembedded=reembed is not None, created=not existed
    )
    total = header.get("chunks") if isinstance(header.get("chunks"), int) else None
    pending: list[tuple[str, str, dict[str, Any], list[float] | None]] = []

    def flush() -> None:
        if not pending:
            return
        if reembed is not None:
            vectors = reembed.embed_documents(
                [contextual_text(str(m.get("context") or ""), t) for _, t, m, _ in pending]
            )
            metas = []
            for _, _, meta, _ in pending:
                if fingerprint_hash and "fingerprint" in meta:  # as kb reembed rewrites them
                    headed = bool(meta.get("context")) or HEADING_OF in meta
                    new_print = with_settings_hash(str(meta["fingerprint"]), fingerprint_hash[headed])
                    meta = {**meta, "fingerprint": new_print}
                metas.append(meta)
        else:
            vectors = [v for *_, v in pending]  # type: ignore[misc]
            metas = [m for _, _, m, _ in pending]
        store.upsert([i for i, *_ in pending], [t for _, t, _, _ in pending], metas, vectors)
        report.chunks += len(pending)
        task.advance(len(pending))
        pending.clear()

    with progress.task(f"importing into {name}", total=total) as task:
        for record in _records(path, need_vectors=reembed is None, dim=dim, report=report):
            pending.append(record)
            if len(pending) >= batch:
                flush()
        flush()
    report.seconds = time.perf_counter() - started
    return report


def _records(
    path: Path, *, need_vectors: bool, dim: int, report: ImportReport
) -> Iterator[tuple[str, str, dict[str, Any], list[float] | None]]:
    """The usable chunk lines; each unusable one is counted and (the first few) said why."""
    with _open(path) as fh:
        fh.readline()
        for number, raw in enumerate(fh, start=2):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                problem, record = "not UTF-8", None
            else:
                if not line.strip():
                    continue
                problem, record = _parse(line, need_vectors=need_vectors, dim=dim)
            if problem:
                report.skipped += 1
                if len(report.warnings) < _MAX_WARNINGS:
                    report.warnings.append(f"line {number}: {problem}")
                continue
            yield record


def _parse(line: str, *, need_vectors: bool, dim: int) -> tuple[str | None, Any]:
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return "not valid JSON", None
    if not isinstance(obj, dict):
        return "not a JSON object", None
    cid, text, meta, vector = obj.get("id"), obj.get("text"), obj.get("metadata"), obj.get("vector")
    if not isinstance(cid, str) or not cid or not isinstance(text, str):
        return "no string id and text", None
    if not isinstance(meta, dict) or not all(
        isinstance(k, str) and safe_metadata_key(k) == k and isinstance(v, str | int | float | bool)
        for k, v in meta.items()
    ):
        return "metadata is not a mapping of names to strings, numbers or booleans", None
    if need_vectors:
        if not isinstance(vector, list) or len(vector) != dim:
            return f"the vector is not a list of {dim} numbers", None
        if not all(
            isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in vector
        ):
            return "the vector holds something other than finite numbers", None
    return None, (cid, text, meta, vector)


def _open(path: Path) -> BinaryIO:
    try:
        return path.expanduser().open("rb")
    except FileNotFoundError:
        raise StoreError(f"no such export file: {path}") from None
    except IsADirectoryError:
        raise StoreError(f"{path} is a folder, not an export file") from None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None
