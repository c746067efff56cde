"""A one-shot ``babelrag search`` from the command line, cold: a new process each time.

What a user waits for: interpreter start, imports, opening the store, loading the embedder, one
query. The default (the int8 ONNX embedder, which never imports torch or transformers) is timed
against the torch fp32 embedder, the default before, on the same knowledge base content; runs
alternate between the two. The page cache is warm (the files were just read), as it is for
someone who searches twice. A third row runs the same command while a `babelrag serve` for the same
data directory is up: the CLI then asks the service (models loaded there) and loads nothing.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import SAMPLE_KB, Table, fmt

TITLE = "7. `babelrag search` from the command line, cold (a new process per search)"
BACKENDS = ("onnx-int8", "torch")
QUERY = "绿茶应该用多少度的水冲泡？"


def run(quick: bool) -> dict[str, Any]:
    reps = 2 if quick else 5
    results: dict[str, list[float]] = {b: [] for b in BACKENDS}
    with tempfile.TemporaryDirectory() as tmp:
        envs = {}
        for backend in BACKENDS:
            envs[backend] = {
                **os.environ,
                "BABELRAG_HOME": str(Path(tmp) / backend),
                "BABELRAG_MODELS__EMBEDDING_BACKEND": backend,
            }
            _cli(envs[backend], "ingest", str(SAMPLE_KB), "--kb", "sample")
        for _ in range(reps):
            for backend in BACKENDS:
                started = time.perf_counter()
                _cli(envs[backend], "search", QUERY, "--kb", "sample", "-k", "3")
                results[backend].append(time.perf_counter() - started)
        results["service"] = _through_service(Path(tmp) / "served", reps)
    return {"reps": reps, "seconds": results, "query": QUERY}


def _through_service(root: Path, reps: int) -> list[float]:
    """The same search while `babelrag serve` runs over the data directory (bench.service's server)."""
    from bench.service import _server

    server = _server(root)
    seconds = []
    with server:
        _cli(server.env, "search", QUERY, "--kb", "sample", "-k", "3")  # the server's first search
        for _ in range(reps):
            started = time.perf_counter()
            _cli(server.env, "search", QUERY, "--kb", "sample", "-k", "3")
            seconds.append(time.perf_counter() - started)
    return seconds


def _cli(env: dict[str, str], *args: str) -> None:
    command = [sys.executable, "-m", "babelrag.agents.cli", "--quiet", *args]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:1])} failed: {proc.stderr.strip()[-400:]}")


def table(r: dict[str, Any]) -> Table:
    rows = []
    labels = {
        "onnx-int8": "int8 ONNX embedder (default)",
        "torch": "torch fp32 embedder (before)",
        "service": "through a running `babelrag serve`",
    }
    medians = {b: statistics.median(s) for b, s in r["seconds"].items() if s}
    for backend, s in r["seconds"].items():
        if s:
            rows.append([labels[backend], fmt(medians[backend], 2), fmt(min(s), 2), fmt(max(s), 2)])
    return Table(
        TITLE,
        ["embedder", "median s", "min s", "max s"],
        rows,
        [
            f"`babelrag --quiet search {r['query']!r} --kb sample -k 3` on the ingested sample KB, "
            f"{r['reps']} runs each, alternating; target ≤ 3 s on 2 cores (≤ 1 s through a running service, "
            "which the CLI finds at service.port and uses when it serves the same data directory).",
            f"torch / int8: {medians['torch'] / medians['onnx-int8']:.2f}×. The int8 path imports neither "
            "torch nor transformers (its tokenizer is read with the `tokenizers` library).",
        ],
    )
