"""A reader process for the concurrency tests: ``python -m tests.concurrency_reader HOME KB SOURCE
SECONDS VERSIONS.json``. It reads one file's chunks over and over while another process rewrites
the file's chunks, and prints one JSON line: how many reads, and those that saw neither all of the
old nor all of the new chunk texts (a half-written file)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> None:
    home, kb, source, seconds, versions_file = sys.argv[1:6]
    versions = [set(v) for v in json.loads(Path(versions_file).read_text(encoding="utf-8"))]
    from babelrag.stores.knowledge_store import KnowledgeStore, open_chroma_client

    store = KnowledgeStore(
        client=open_chroma_client(Path(home) / "chroma"), name=kb, embedder=None, create=False
    )
    reads, half, both = 0, [], 0
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        got = store.collection.get(where={"source": source}, include=["documents"])
        texts = set(got["documents"] or [])
        reads += 1
        whole = [v <= texts for v in versions]
        if not any(whole):
            half.append(sorted(texts)[:3])
        elif all(whole):
            both += 1
    print(json.dumps({"reads": reads, "half": half[:5], "half_count": len(half), "both": both}))


if __name__ == "__main__":
    main()
