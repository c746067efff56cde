"""Running the CLI (with the keyword fake, see ``tests/fake_cli.py``) as real processes, and reading a
knowledge base back to compare it with another."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BABELRAG_")}
    env |= {
        "BABELRAG_HOME": str(home),
        "BABELRAG_MODELS__EMBEDDING_BATCH_SIZE": "4",  # several batches, so a crash can fall between them
        "BABELRAG_INGEST__CHUNK_TOKENS": "48",  # several chunks per small file (fake tokens are words)
        "BABELRAG_INGEST__CHUNK_OVERLAP": "8",
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
    }
    return env | extra


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tests.fake_cli", "--quiet", *args]


def run_cli(home: Path, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_command(*args),
        cwd=REPO,
        env=cli_env(home, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_cli(home: Path, *args: str, stderr: Path | None = None, **env: str) -> subprocess.Popen[str]:
    """The CLI started in the background; ``stderr`` (a file) lets a test read it while it runs."""
    return subprocess.Popen(
        cli_command(*args),
        cwd=REPO,
        env=cli_env(home, **env),
        stdout=subprocess.PIPE,
        stderr=stderr.open("w") if stderr is not None else subprocess.PIPE,
        text=True,
    )


def kb_contents(home: Path, kb: str) -> dict[str, tuple[str, dict[str, Any], list[float]]]:
    """Every chunk of ``kb``: id -> (text, metadata, vector), read with a client of this process.

    Call it only when no process writes the knowledge base any more."""
    from chromadb.api.client import SharedSystemClient

    from babelrag.stores.knowledge_store import KnowledgeStore, open_chroma_client

    SharedSystemClient.clear_system_cache()  # other processes wrote since: no cached view of it
    client = open_chroma_client(home / "chroma")
    store = KnowledgeStore(client=client, name=kb, embedder=None, create=False)
    got = store.collection.get(include=["documents", "metadatas", "embeddings"])
    return {
        cid: (text, dict(meta), [float(x) for x in vector])
        for cid, text, meta, vector in zip(
            got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True
        )
    }


def differences(got: dict, want: dict, *, tolerance: float = 1e-5) -> list[str]:
    """How ``got`` differs from ``want`` (chunk ids, texts, metadata, vectors), empty when equal."""
    problems = []
    if missing := sorted(want.keys() - got.keys()):
        problems.append(f"{len(missing)} chunks missing, e.g. {missing[:2]}")
    if extra := sorted(got.keys() - want.keys()):
        problems.append(f"{len(extra)} chunks too many, e.g. {extra[:2]}")
    for cid in sorted(got.keys() & want.keys()):
        (text, meta, vec), (want_text, want_meta, want_vec) = got[cid], want[cid]
        if text != want_text:
            problems.append(f"{cid}: text differs")
        if meta != want_meta:
            problems.append(f"{cid}: metadata differs: {meta} != {want_meta}")
        if (
            len(vec) != len(want_vec)
            or max(abs(a - b) for a, b in zip(vec, want_vec, strict=True)) > tolerance
        ):
            problems.append(f"{cid}: vector differs")
    return problems
