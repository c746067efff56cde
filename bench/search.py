"""Search latency: babelrag's ``KnowledgeStore`` (Chroma HNSW) vs exact numpy brute force.

Store figures use synthetic vectors of the embedder's dimension: 200 random unit centroids plus
gaussian noise (cosine to the own centroid ~0.7, like real related passages), normalised, written
through ``KnowledgeStore.upsert`` in its batches. The same vectors go into a numpy matrix for the
exact baseline, which also gives the true top-10 for Chroma's recall. Query embedding is timed
with the real embedder on the real sample questions, in its own column.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench.common import Table, bench_settings, fmt, latency_summary, sample_questions, timed

TITLE = "3. Search latency, top-10 (store figures on SYNTHETIC vectors; query embedding real)"
DIM, CENTROIDS, NOISE, K = 384, 200, 0.05, 10
FILLER = "Synthetic passage text standing in for a chunk of about four hundred characters. " * 5


class SyntheticEmbedder:
    """Only what the store checks: an id and a dimension (vectors are supplied directly)."""

    model_id = "synthetic-clustered"
    dimension = DIM
    max_tokens = 512

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise NotImplementedError("synthetic store: vectors are given")

    def embed_query(self, text: str) -> list[float]:
        raise NotImplementedError("synthetic store: vectors are given")

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def run(quick: bool) -> dict[str, Any]:
    import numpy as np

    sizes, n_queries = ((1_000, 10_000), 100) if quick else ((1_000, 10_000, 100_000), 200)
    rng = np.random.default_rng(0)
    centroids = _normalise(rng.standard_normal((CENTROIDS, DIM)))
    queries = _clustered(rng, centroids, n_queries)
    results = {"sizes": {}, "queries": n_queries, "query_embedding": _query_embedding(quick)}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            vectors = _clustered(rng, centroids, size)
            results["sizes"][str(size)] = _measure(Path(tmp) / f"store{size}", vectors, queries)
    return results


def _clustered(rng: Any, centroids: Any, n: int) -> Any:
    labels = rng.integers(0, len(centroids), n)
    return _normalise(centroids[labels] + NOISE * rng.standard_normal((n, DIM))).astype("float32")


def _normalise(x: Any) -> Any:
    import numpy as np

    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _measure(path: Path, vectors: Any, queries: Any) -> dict[str, Any]:
    import numpy as np

    from babelrag.stores.knowledge_store import KnowledgeStore, open_chroma_client

    store = KnowledgeStore(client=open_chroma_client(path), name="synthetic", embedder=SyntheticEmbedder())
    n = len(vectors)
    ids = [str(i) for i in range(n)]
    metas = [
        {"source": f"/synthetic/doc{i // 20}.md", "title": "t", "lang": "en", "chunk": i % 20}
        for i in range(n)
    ]
    texts = [f"{i} {FILLER}" for i in ids]
    # plain lists, as the Ingestor passes them: upsert's list(row) of a numpy row gives np.float32
    # items, which Chroma rejects
    build_s, _ = timed(lambda: store.upsert(ids, texts, metas, vectors.tolist()))
    cold_s, _ = timed(lambda: store.search_by_vector(queries[0].tolist(), k=K))
    for q in queries[:5]:  # warm-up
        store.search_by_vector(q.tolist(), k=K)

    ours, raw, exact, recalls = [], [], [], []
    for q in queries:
        as_list = q.tolist()
        ours.append(timed(lambda v=as_list: store.search_by_vector(v, k=K))[0])
        seconds, got = timed(lambda v=as_list: _chroma_query(store, v))
        raw.append(seconds)
        seconds, truth = timed(lambda q=q: _exact_top_k(vectors, q))
        exact.append(seconds)
        recalls.append(len({int(i) for i in got} & {int(i) for i in truth}) / K)
    return {
        "chunks": n,
        "build_s": build_s,
        "cold_first_query_ms": cold_s * 1000,
        "knowledge_store": latency_summary(ours),
        "chroma_query": latency_summary(raw),
        "numpy_exact": latency_summary(exact),
        "recall_at_10": float(np.mean(recalls)),
    }


def _chroma_query(store: Any, vector: list[float]) -> list[str]:
    """The bare Chroma query the store makes (no count(), no hit objects)."""
    got = store.collection.query(
        query_embeddings=[vector], n_results=K, include=["metadatas", "documents", "distances"]
    )
    return got["ids"][0]


def _exact_top_k(matrix: Any, query: Any) -> Any:
    """Exact cosine top-k: rows are unit vectors, so a matrix product and a partial sort."""
    import numpy as np

    scores = matrix @ query
    top = np.argpartition(-scores, K)[:K]
    return top[np.argsort(-scores[top])]


def _query_embedding(quick: bool) -> dict[str, Any]:
    """``embed_query`` latency of the real embedder on the 14 sample questions."""
    from babelrag.agents.runtime import Runtime

    questions = [q["question"] for q in sample_questions(range(1, 15))]
    with tempfile.TemporaryDirectory() as tmp:
        embedder = Runtime(bench_settings(Path(tmp))).embedder
    for q in questions[:3]:
        embedder.embed_query(q)  # warm-up
    seconds = [
        timed(lambda q=q: embedder.embed_query(q))[0] for _ in range(2 if quick else 5) for q in questions
    ]
    return latency_summary(seconds)


def table(r: dict[str, Any]) -> Table:
    emb = r["query_embedding"]
    rows = []
    for size, s in r["sizes"].items():
        ks, raw, exact = s["knowledge_store"], s["chroma_query"], s["numpy_exact"]
        rows.append(
            [
                f"{int(size):,}",
                fmt(s["build_s"], 1),
                fmt(s["cold_first_query_ms"], 1),
                f"{fmt(ks['p50_ms'], 2)} / {fmt(ks['p95_ms'], 2)}",
                f"{fmt(raw['p50_ms'], 2)} / {fmt(raw['p95_ms'], 2)}",
                f"{fmt(exact['p50_ms'], 2)} / {fmt(exact['p95_ms'], 2)}",
                f"{s['recall_at_10']:.3f}",
                f"{fmt(emb['p50_ms'], 1)} / {fmt(emb['p95_ms'], 1)}",
                fmt(emb["p50_ms"] + ks["p50_ms"], 1),
            ]
        )
    return Table(
        TITLE,
        [
            "chunks",
            "build s (synthetic)",
            "1st query ms",
            "KnowledgeStore p50/p95 ms",
            "raw Chroma query p50/p95 ms",
            "numpy exact p50/p95 ms",
            "HNSW recall@10",
            "query embed p50/p95 ms (real)",
            "embed + store p50 ms",
        ],
        rows,
        [
            f"Synthetic: {DIM}-d unit vectors around {CENTROIDS} centroids (noise {NOISE}/dim), "
            f"{r['queries']} queries drawn the same way; build = KnowledgeStore.upsert of all chunks.",
            "KnowledgeStore = search_by_vector (Chroma query + hits); raw = collection.query "
            "alone; numpy = matrix @ query + argpartition on the same vectors (exact).",
            f"Query embedding: real multilingual-e5-small on the 14 sample questions ({emb['n']} calls); "
            "the last column adds the two medians.",
        ],
    )
