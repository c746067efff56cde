"""Search latency through a Chroma server (``chroma run`` on loopback) next to embedded Chroma.

The same synthetic vectors as section 3 (``bench/search.py``) go into one knowledge base in an
embedded ``PersistentClient`` folder and one on a ``chroma run`` server started for the run;
the same queries go to both, one client at a time and then from several clients at once (one
``HttpClient`` each on the server, as from separate babelrag processes; threads sharing the one
embedded client). ``revision`` is the one extra request a cross-lingual query makes (the
knowledge base's languages are cached under it). Query embedding is timed with the real
embedder, as in section 3, so "embed + store" is what a ``search`` waits for.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import Table, fmt, latency_summary, timed
from bench.search import CENTROIDS, DIM, FILLER, K, SyntheticEmbedder, _clustered, _exact_top_k, _normalise

TITLE = "3b. Search through a Chroma server (loopback) vs embedded Chroma, top-10, SYNTHETIC vectors"
CLIENTS = 4


def run(quick: bool) -> dict[str, Any]:
    import numpy as np

    from bench.search import _query_embedding

    sizes, n_queries = ((1_000, 10_000), 100) if quick else ((1_000, 10_000, 100_000), 200)
    rng = np.random.default_rng(0)
    centroids = _normalise(rng.standard_normal((CENTROIDS, DIM)))
    queries = _clustered(rng, centroids, n_queries)
    results: dict[str, Any] = {"sizes": {}, "queries": n_queries, "clients": CLIENTS}
    with tempfile.TemporaryDirectory() as tmp, chroma_server(Path(tmp) / "server") as url:
        for size in sizes:
            vectors = _clustered(rng, centroids, size)
            results["sizes"][str(size)] = _measure(Path(tmp) / f"embedded{size}", url, vectors, queries)
    results["query_embedding"] = _query_embedding(quick)
    return results


@contextmanager
def chroma_server(path: Path) -> Iterator[str]:
    """``chroma run`` on a free loopback port until the block ends."""
    import socket
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    cli = Path(sys.executable).parent / "chroma"
    command = [str(cli), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"`{' '.join(command)}` did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _measure(path: Path, url: str, vectors: Any, queries: Any) -> dict[str, Any]:
    from babelrag.stores.chroma_server import open_chroma_server
    from babelrag.stores.knowledge_store import open_chroma_client

    n = len(vectors)
    name = f"synthetic{n}"
    stores = {
        "embedded": _build(open_chroma_client(path), name, vectors),
        "server": _build(open_chroma_server(url), name, vectors),
    }
    as_lists = [q.tolist() for q in queries]
    truth = [set(_exact_top_k(vectors, q).tolist()) for q in queries]
    for store, _ in stores.values():
        for v in as_lists[:20]:  # warm-up (the server's first queries load its index)
            store.search_by_vector(v, k=K)
    seconds: dict[str, list[float]] = {kind: [] for kind in stores}
    revision: dict[str, list[float]] = {kind: [] for kind in stores}
    hits_in_truth: dict[str, list[float]] = {kind: [] for kind in stores}
    for i, (v, true_ids) in enumerate(zip(as_lists, truth, strict=True)):
        # query by query, alternating which goes first: drift on a shared machine hits both alike
        for kind in sorted(stores, reverse=bool(i % 2)):
            store = stores[kind][0]
            s, hits = timed(lambda store=store, v=v: store.search_by_vector(v, k=K))
            seconds[kind].append(s)
            hits_in_truth[kind].append(len({int(h.id) for h in hits} & true_ids) / K)
            revision[kind].append(timed(store.revision)[0])
    out: dict[str, Any] = {"chunks": n}
    for kind, (store, build_s) in stores.items():
        out[kind] = {
            "build_s": build_s,
            "search": latency_summary(seconds[kind]),
            "revision": latency_summary(revision[kind]),
            "recall_at_10": sum(hits_in_truth[kind]) / len(hits_in_truth[kind]),
            "parallel": _parallel(kind, store, url, name, as_lists),
        }
    return out


def _build(client: Any, name: str, vectors: Any) -> tuple[Any, float]:
    from babelrag.stores.knowledge_store import KnowledgeStore

    store = KnowledgeStore(client=client, name=name, embedder=SyntheticEmbedder())
    n = len(vectors)
    ids = [str(i) for i in range(n)]
    metas = [
        {"source": f"/synthetic/doc{i // 20}.md", "title": "t", "lang": "en", "chunk": i % 20}
        for i in range(n)
    ]
    texts = [f"{i} {FILLER}" for i in ids]
    build_s, _ = timed(lambda: store.upsert(ids, texts, metas, vectors.tolist()))
    return store, build_s


def _parallel(kind: str, store: Any, url: str, name: str, queries: list[list[float]]) -> dict[str, Any]:
    """``CLIENTS`` threads each send every query: own HttpClient each on the server (separate
    processes' view), the one embedded store shared otherwise. Latency p50/p95 and queries/s."""
    from babelrag.stores.chroma_server import open_chroma_server
    from babelrag.stores.knowledge_store import KnowledgeStore

    if kind == "server":
        stores = [
            KnowledgeStore(client=open_chroma_server(url), name=name, embedder=SyntheticEmbedder())
            for _ in range(CLIENTS)
        ]
    else:
        stores = [store] * CLIENTS
    seconds: list[list[float]] = [[] for _ in range(CLIENTS)]
    start = threading.Barrier(CLIENTS + 1)

    def client(i: int) -> None:
        start.wait()
        for v in queries:
            seconds[i].append(timed(lambda v=v: stores[i].search_by_vector(v, k=K))[0])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    every = [s for per in seconds for s in per]
    return {**latency_summary(every), "queries_per_s": len(every) / wall}


def table(r: dict[str, Any]) -> Table:
    emb = r["query_embedding"]
    rows = []
    for size, s in r["sizes"].items():
        for kind in ("embedded", "server"):
            k = s[kind]
            search, par = k["search"], k["parallel"]
            rows.append(
                [
                    f"{int(size):,}",
                    kind,
                    fmt(k["build_s"], 1),
                    f"{fmt(search['p50_ms'], 2)} / {fmt(search['p95_ms'], 2)}",
                    fmt(k["revision"]["p50_ms"], 2),
                    f"{fmt(par['p50_ms'], 2)} / {fmt(par['p95_ms'], 2)}",
                    fmt(par["queries_per_s"], 0),
                    f"{k['recall_at_10']:.3f}",
                    fmt(emb["p50_ms"] + search["p50_ms"], 1),
                ]
            )
    return Table(
        TITLE,
        [
            "chunks",
            "Chroma",
            "build s",
            "search p50/p95 ms",
            "revision p50 ms",
            f"{r['clients']} clients p50/p95 ms",
            f"{r['clients']} clients queries/s",
            "recall@10",
            "embed + search p50 ms",
        ],
        rows,
        [
            "server = `chroma run` on 127.0.0.1 started for the run, reached through chromadb.HttpClient "
            "(store.chroma_url); embedded = PersistentClient in a folder (the default). Same synthetic "
            f"vectors and {r['queries']} queries for both (as section 3).",
            "search = KnowledgeStore.search_by_vector (query, hits); revision = the collection metadata "
            "read a cross-lingual query adds to check its cached language counts and BM25 index.",
            f"{r['clients']} clients: threads sending every query at once, each with its own HttpClient "
            "on the server, all sharing the one embedded client otherwise; the server process competes "
            "for the same cores on loopback.",
            "embed + search: the real multilingual-e5-small query embedding p50 "
            f"({fmt(emb['p50_ms'], 1)} ms, section 3's method) plus the store's p50.",
        ],
    )
