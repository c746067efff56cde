"""A reader process for the concurrency tests: ``python -m tests.concurrency_reader HOME KB SOURCE
SECONDS VERSIONS.json``. It reads one file's chunks over and over while another process rewrites
the file's chunks, as readers do (the file's passages in one read, and a search whose results hold
every chunk), and prints one JSON line: how many reads, those that saw neither all of the old nor all
of the new chunk texts (a half-written file), and those that saw chunks of both versions."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> None:
    home, kb, source, seconds, versions_file = sys.argv[1:6]
    versions = [set(v) for v in json.loads(Path(versions_file).read_text(encoding="utf-8"))]
    only = [a - b for a, b in zip(versions, versions[::-1], strict=True)]  # texts of one version alone
    from babelrag.stores.fakes import KeywordEmbeddings
    from babelrag.stores.knowledge_store import KnowledgeStore, open_chroma_client

    store = KnowledgeStore(
        client=open_chroma_client(Path(home) / "chroma"), name=kb, embedder=None, create=False
    )
    vector = KeywordEmbeddings(dimension=64).embed_query("stone bridges")
    reads, half, both = 0, [], 0
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        if reads % 2:
            hits = store.search_by_vector(vector, k=200)
        else:
            hits = store.passages_of(source, headings=True)
        texts = {hit.text for hit in hits}
        reads += 1
        if not any(v <= texts for v in versions):
            half.append(sorted(texts)[:3])
        if all(texts & o for o in only):
            both += 1
    print(json.dumps({"reads": reads, "half": half[:5], "half_count": len(half), "both": both}))


if __name__ == "__main__":
    main()
