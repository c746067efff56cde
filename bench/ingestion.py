"""Ingestion throughput: babelrag's ``Ingestor`` (files to stored vectors) vs ``Chroma.from_documents``.

The corpus is N copies of the sample knowledge base in a temp folder (so every copy is a
different source). The baseline gets babelrag's own chunks (texts, ids, metadata) ready-made, so
it does only embedding and storing; babelrag also reads, parses, detects languages, chunks and
checks what is already stored. Both use the same embeddings object.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench.common import SAMPLE_KB, Table, bench_settings, fmt, ratio, timed

TITLE = "2. Ingestion throughput (real embedder, N copies of the sample KB)"


def run(quick: bool) -> dict[str, Any]:
    from babelrag.agents.runtime import Runtime

    copies, reps = (2, 1) if quick else (5, 2)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        corpus = tmp / "corpus"
        for i in range(copies):
            shutil.copytree(SAMPLE_KB, corpus / f"copy{i}")
        runtime = Runtime(bench_settings(tmp / "home-warmup"))
        runtime.embedder.embed_documents(["warm-up passage"] * runtime.embedder.batch_size)
        runs: list[dict[str, Any]] = []
        stored: tuple[list[Any], list[str]] | None = None
        for rep in range(reps):
            ours = runtime.derive(bench_settings(tmp / f"home{rep}", kb="bench"))
            baseline_dir = tmp / f"langchain{rep}"
            if stored is None:  # the first round needs babelrag's chunks for the baseline
                row = _ingest_babelrag(ours, corpus)
                stored = _stored_chunks(ours)
                row |= _ingest_langchain(*stored, runtime.embedder, baseline_dir)
            else:  # later rounds go baseline first, so drift does not favour one side
                row = _ingest_langchain(*stored, runtime.embedder, baseline_dir)
                row |= _ingest_babelrag(ours, corpus)
            runs.append(row)
        # the same corpus without section entries: what they cost at ingest (README "How well it works")
        plain = runtime.derive(
            bench_settings(tmp / "home-plain", kb="bench", ingest={"section_entries": False})
        )
        plain_s, plain_report = timed(lambda: plain.ingestor().ingest([corpus]))
        chunk_seconds, _ = timed(lambda: _read_and_chunk(runtime, corpus))
        padding = _padding(stored[0], corpus, runtime.embedder)
    chunks = runs[0]["chunks"]
    best = {key: min(r[key] for r in runs) for key in ("babelrag_s", "baseline_s", "reingest_s")}
    return {
        "copies": copies,
        "files": runs[0]["files"],
        "chunks": chunks,
        "repetitions": reps,
        "runs": runs,
        "babelrag_chunks_per_s": chunks / best["babelrag_s"],
        "baseline_chunks_per_s": chunks / best["baseline_s"],
        "reingest_s": best["reingest_s"],
        "read_and_chunk_s": chunk_seconds,
        "no_sections_s": plain_s,
        "no_sections_entries": plain_report.chunks_embedded,
        "padding": padding,
        **best,
    }


def _ingest_babelrag(runtime: Any, corpus: Path) -> dict[str, Any]:
    """Ingest into a fresh store, then ingest again (nothing changed: a no-op)."""
    ingestor = runtime.ingestor()
    seconds, report = timed(lambda: ingestor.ingest([corpus]))
    again_s, again = timed(lambda: ingestor.ingest([corpus]))
    return {
        "babelrag_s": seconds,
        "files": len(report.added),
        "chunks": report.chunks_embedded,
        "reingest_s": again_s,
        "reingest_unchanged": len(again.unchanged),
        "reingest_embedded": again.chunks_embedded,
    }


def _ingest_langchain(docs: list[Any], ids: list[str], embeddings: Any, path: Path) -> dict[str, Any]:
    seconds, count = timed(lambda: _langchain_ingest(docs, ids, embeddings, path))
    return {"baseline_s": seconds, "baseline_chunks": count}


def _stored_chunks(runtime: Any) -> tuple[list[Any], list[str]]:
    """babelrag's chunks as LangChain documents, so the baseline embeds exactly the same texts."""
    from langchain_core.documents import Document

    got = runtime.store().collection.get(include=["documents", "metadatas"])
    docs = [
        Document(page_content=t, metadata=dict(m))
        for t, m in zip(got["documents"], got["metadatas"], strict=True)
    ]
    return docs, list(got["ids"])


def _langchain_ingest(docs: list[Any], ids: list[str], embeddings: Any, path: Path) -> int:
    import chromadb
    from chromadb.config import Settings
    from langchain_chroma import Chroma

    client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
    store = Chroma.from_documents(
        docs,
        embedding=embeddings,
        ids=ids,
        client=client,
        collection_name="baseline",
        collection_configuration={"hnsw": {"space": "cosine"}},
    )
    return store._collection.count()


def _padding(docs: list[Any], corpus: Path, embedder: Any) -> dict[str, int]:
    """Tokens the encoder computes, padding included, for both ways of batching the same chunks.

    The Ingestor sorts its queue by characters (across files) and embeds in batches of
    ``batch_size``, each padded to its longest chunk; one ``embed_documents`` call over all chunks
    (the baseline) lets sentence-transformers sort them by token length first.
    """
    from babelrag.stores.ingest import source_key
    from babelrag.stores.loaders import iter_source_files

    order = {source_key(p): i for i, p in enumerate(iter_source_files([corpus]))}
    # heading and section entries have no chunk index: they sort before the chunks of their document
    queue = sorted(
        docs, key=lambda d: (order[d.metadata["source"]], str(d.metadata["doc"]), d.metadata.get("chunk", -1))
    )
    queue.sort(key=lambda d: len(d.page_content))  # the Ingestor's order (stable, like its sort)
    model, size = embedder.model, embedder.batch_size
    texts = [embedder.document_prompt + d.page_content for d in queue]
    lengths = [
        len(ids)
        for ids in model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)["input_ids"]
    ]

    def padded(values: list[int]) -> int:
        return sum(max(values[i : i + size]) * len(values[i : i + size]) for i in range(0, len(values), size))

    return {
        "real_tokens": sum(lengths),
        "babelrag_padded_tokens": padded(lengths),
        "baseline_padded_tokens": padded(sorted(lengths, reverse=True)),
    }


def _read_and_chunk(runtime: Any, corpus: Path) -> int:
    """The work only babelrag does: read and parse files, detect languages, chunk."""
    from babelrag.stores.langdetect import detect_language
    from babelrag.stores.loaders import FileLoader, iter_source_files

    chunker = runtime.chunker()
    n = 0
    for path in iter_source_files([corpus]):
        for doc in FileLoader(path).load():
            doc.metadata.get("lang") or detect_language(doc.page_content)
            n += len(chunker.split_text(doc.page_content))
    return n


def table(r: dict[str, Any]) -> Table:
    chunks, pad = r["chunks"], r["padding"]
    return Table(
        TITLE,
        ["figure", "babelrag Ingestor", "Chroma.from_documents", "babelrag / baseline"],
        [
            [
                "chunks/s (end to end)",
                fmt(r["babelrag_chunks_per_s"]),
                fmt(r["baseline_chunks_per_s"]),
                ratio(r["babelrag_chunks_per_s"], r["baseline_chunks_per_s"]),
            ],
            [f"seconds for {chunks} chunks", fmt(r["babelrag_s"], 2), fmt(r["baseline_s"], 2), ""],
            ["of which read + parse + detect + chunk", fmt(r["read_and_chunk_s"], 2), "(given)", ""],
            [
                "tokens through the encoder, padding included",
                f"{pad['babelrag_padded_tokens']:,}",
                f"{pad['baseline_padded_tokens']:,}",
                ratio(pad["babelrag_padded_tokens"], pad["baseline_padded_tokens"]),
            ],
            ["re-ingest, nothing changed (s)", fmt(r["reingest_s"], 2), "n/a (re-embeds all)", ""],
            *(
                [
                    [
                        f"without section entries: seconds for {r['no_sections_entries']} entries",
                        fmt(r["no_sections_s"], 2),
                        "",
                        f"sections cost {ratio(r['babelrag_s'], r['no_sections_s'])}",
                    ]
                ]
                if "no_sections_s" in r
                else []
            ),
        ],
        [
            f"{r['copies']} copies of examples/sample_kb = {r['files']} files, {chunks} entries (chunks, "
            "heading and section entries); best of "
            f"{r['repetitions']} rounds, each into a fresh store.",
            "The baseline is handed babelrag's chunks (texts, ids, metadata), so it only embeds and "
            "stores; babelrag's time includes reading files and chunking (row 3, timed separately).",
            f"Padding (row 4, computed from token counts; {pad['real_tokens']:,} real tokens): the Ingestor "
            "sorts chunks by characters across files and embeds in batches of the settings' batch size, "
            "each padded to its longest chunk; the baseline's single call sorts by token length.",
        ],
    )
