"""A reader process for the concurrency tests: ``python -m tests.concurrency_reader HOME KB SOURCE
SECONDS VERSIONS.json``. It reads one file's chunks over and over while another process rewrites
the file's chunks, as readers do: the file's passages, and a search asking for more hits than the
file has chunks. It prints one JSON line: how many reads of each kind, the passage reads that saw
neither all of the old nor all of the new chunk texts (a half-written file), and the reads of either
kind that saw chunks of both versions. (A search can miss chunks for a moment in another process:
Chroma's vector index there catches up with a write a little later than its records do.)"""

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
    reads, searches, half, both = 0, 0, [], 0
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        search = (reads + searches) % 2 == 1
        if search:
            hits = store.search_by_vector(vector, k=200)
            searches += 1
        else:
            hits = store.passages_of(source, headings=True)
            reads += 1
        texts = {hit.text for hit in hits}
        if not search and not any(v <= texts for v in versions):
            half.append(sorted(texts)[:3])
        if all(texts & o for o in only):
            both += 1
    print(
        json.dumps(
            {"reads": reads, "searches": searches, "half": half[:5], "half_count": len(half), "both": both}
        )
    )


if __name__ == "__main__":
    main()
