"""A one-minute probe of an embedder's cross-lingual titles: ``python bench/title_probe.py MODEL BEIR…``.

For each BEIR folder (``babelrag eval build-debref`` writes them: titles in one language as the
queries, English sections as the corpus), the model embeds every judged query with its query
prompt and every corpus *title* with its document prompt, and ranks titles by cosine: dense
MRR@10 of title against title, without the knowledge base, chunking or Chroma. It follows the full
``eval retrieval --modes dense`` within about .01 (e5: German .921 here, .922 there) and takes a
minute instead of ten, so it is the quick check between distillation runs; the full evaluation
is the figure to report. Prints the machine (CPU flags) and one JSON line per folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python bench/title_probe.py` puts bench/, not the repo root, on sys.path
    sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="sentence-transformers folder or HF id")
    parser.add_argument("folders", nargs="+", type=Path, help="BEIR folders (title queries)")
    args = parser.parse_args()

    import numpy as np
    from sentence_transformers import SentenceTransformer

    from babelrag.agents.evaluation.beir import load_beir
    from babelrag.agents.evaluation.metrics import mrr_at_k
    from bench.common import machine_info

    print(json.dumps({"machine": machine_info()}), flush=True)
    model = SentenceTransformer(args.model, device="cpu")

    def embed(texts: list[str], role: str) -> np.ndarray:
        name = role if role in (model.prompts or {}) else None
        return model.encode(texts, prompt_name=name, batch_size=64, normalize_embeddings=True)

    for folder in args.folders:
        started = time.perf_counter()
        ds = load_beir(folder)
        ids = list(ds.corpus)
        titles = embed([ds.corpus[i].title or ds.corpus[i].text[:200] for i in ids], "document")
        judged = ds.judged_query_ids()
        queries = embed([ds.queries[q].text for q in judged], "query")
        scores = queries @ titles.T
        reciprocal = [mrr_at_k([ids[j] for j in np.argsort(-scores[row])[:10]], ds.qrels[qid], 10)
                      for row, qid in enumerate(judged)]  # fmt: skip
        missed = [ds.queries[qid].text for qid, rr in zip(judged, reciprocal, strict=True) if not rr]
        print(json.dumps({"folder": str(folder), "model": args.model, "queries": len(judged),
                          "title_mrr@10": round(float(np.mean(reciprocal)), 3), "missed": missed,
                          "seconds": round(time.perf_counter() - started, 1)}, ensure_ascii=False),
              flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
