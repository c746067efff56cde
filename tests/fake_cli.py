"""The real ``babelrag`` command line with the keyword fake embedder, for tests that need whole
processes (crashes, concurrent writers) without loading a model: ``python -m tests.fake_cli ARGS``.

The embedder's id is ``fake/<models.embedder>``, so ``kb reembed --embedder other`` moves a knowledge
base to a genuinely different (fake) model.

Test-only hooks, read from the environment (production code has none):

- ``BABELRAG_TEST_CRASH_AT=POINT:N`` kills the process with SIGKILL at the N-th time it reaches
  POINT: ``read`` (a file is about to be loaded), ``embed`` (a batch is about to be embedded),
  ``upsert`` / ``upsert-done`` (before / after chunks are written), ``update`` (kept chunks' metadata),
  ``delete`` / ``delete-done`` (stale chunks), ``rename`` (a collection is renamed, as re-embedding
  swaps its index in), ``drop`` (a collection is deleted), ``batch`` (one Chroma write call: with
  ``BABELRAG_TEST_WRITE_BATCH`` a file's chunks take several, and a crash can fall between them).
- ``BABELRAG_TEST_EMBED_DELAY=SECONDS`` sleeps before each embedding batch (slow writers for the
  concurrency tests); ``BABELRAG_TEST_EMBED_HOLD=PATH`` holds the first batch until PATH exists
  (at most a minute), so a test decides when a writer may go on.
- ``BABELRAG_TEST_WRITE_BATCH=N`` writes at most N chunks per store call (instead of thousands),
  so a crash can fall between two write batches of one file.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from functools import cached_property, wraps
from typing import Any

CRASH_POINTS = (
    "read",
    "embed",
    "upsert",
    "upsert-done",
    "update",
    "delete",
    "delete-done",
    "rename",
    "drop",
    "batch",
)
_reached: Counter[str] = Counter()


def _crash_point(point: str) -> None:
    spec = os.environ.get("BABELRAG_TEST_CRASH_AT", "")
    name, _, n = spec.partition(":")
    if name != point:
        return
    _reached[point] += 1
    if _reached[point] == int(n or 1):
        os.kill(os.getpid(), signal.SIGKILL)


def _hook(owner: Any, method: str, before: str | None, after: str | None = None) -> None:
    original: Callable[..., Any] = getattr(owner, method)

    @wraps(original)
    def hooked(*args: Any, **kwargs: Any) -> Any:
        if before:
            _crash_point(before)
        result = original(*args, **kwargs)
        if after:
            _crash_point(after)
        return result

    setattr(owner, method, hooked)


def install() -> None:
    from chromadb.api.models.Collection import Collection

    from babelrag.agents.runtime import Runtime
    from babelrag.stores import loaders
    from babelrag.stores.fakes import KeywordEmbeddings
    from babelrag.stores.knowledge_store import KnowledgeStore

    delay = float(os.environ.get("BABELRAG_TEST_EMBED_DELAY", "0") or 0)
    hold = os.environ.get("BABELRAG_TEST_EMBED_HOLD")

    class FakeEmbedder(KeywordEmbeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            _crash_point("embed")
            deadline = time.monotonic() + 60
            while hold and not os.path.exists(hold) and time.monotonic() < deadline:
                time.sleep(0.05)
            if delay:
                time.sleep(delay)
            return super().embed_documents(texts)

    def embedder(self: Runtime) -> KeywordEmbeddings:
        return FakeEmbedder(dimension=64, model_id=f"fake/{self.settings.models.embedder}")

    prop = cached_property(embedder)
    prop.__set_name__(Runtime, "embedder")
    Runtime.embedder = prop  # type: ignore[assignment]

    if size := int(os.environ.get("BABELRAG_TEST_WRITE_BATCH", "0") or 0):
        KnowledgeStore._batches = lambda self, n: ((i, min(i + size, n)) for i in range(0, n, size))  # type: ignore[method-assign]
    _hook(loaders.FileLoader, "lazy_load", "read")
    _hook(KnowledgeStore, "upsert", "upsert", "upsert-done")
    _hook(KnowledgeStore, "update_metadata", "update")
    _hook(KnowledgeStore, "delete", "delete", "delete-done")
    _hook(Collection, "modify", "rename")
    for method in ("upsert", "update", "delete"):
        _hook(Collection, method, "batch")
    from chromadb.api.client import Client

    _hook(Client, "delete_collection", "drop")


def main() -> None:
    install()
    from babelrag.agents.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
