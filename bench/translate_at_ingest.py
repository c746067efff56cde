"""Translation at ingest measured: Debian Reference, Chinese queries, English corpus.

Does storing machine translations of the corpus *into the query language* help the embedder find
the right section? Measured as dense retrieval of the Chinese (zh-cn) section titles over the
English sections, without and with ``ingest.translate_to = ["zh"]`` through the default translator,
with query translation (the existing remedy) as the reference line.

Translating with the packaged 0.5B generator on a shared CPU costs seconds a sentence, so the
measured corpus is a seeded subset: the relevant sections of ``--queries`` sampled queries plus as
many other sections as distractors, each cut to its title and first ``--chars`` characters (ended
at a sentence). Both knowledge bases hold exactly that corpus.

    BABELRAG_HOME=/tmp/kg-home PYTHONPATH=. python -m bench.translate_at_ingest \\
        /tmp/evalq/titles-zh-cn --cache-dir /tmp/kg-cache --queries 40 --out bench/results/translate_at_ingest
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from pathlib import Path
from typing import Any

_END = re.compile(r"(?<=[.!?:])\s")


def subset(dataset: Any, queries: int, distractors: int, chars: int, seed: int = 0) -> Any:
    from babelrag.agents.evaluation.beir import BeirDataset, CorpusDoc

    rng = random.Random(seed)
    qids = rng.sample(dataset.judged_query_ids(), queries)
    relevant = {doc for q in qids for doc, score in dataset.qrels[q].items() if score > 0}
    others = sorted(set(dataset.corpus) - relevant)
    keep = relevant | set(rng.sample(others, min(distractors, len(others))))

    def cut(text: str) -> str:
        if len(text) <= chars:
            return text
        ends = [m.start() for m in _END.finditer(text) if m.start() <= chars]
        return text[: ends[-1] + 1] if ends else text[:chars]

    corpus = {
        i: CorpusDoc(id=d.id, title=d.title, text=cut(d.text), lang=d.lang)
        for i, d in dataset.corpus.items()
        if i in keep
    }
    return BeirDataset(
        corpus=corpus,
        queries={q: dataset.queries[q] for q in qids},
        qrels={q: dataset.qrels[q] for q in qids},
        fingerprint=f"{dataset.fingerprint}:subset{queries}/{distractors}/{chars}/{seed}",
    )


def _by_coverage(
    data: Any, plain: Any, translated: Any, translated_docs: set[str]
) -> dict[str, dict[str, Any]]:
    """MRR@10 of both knowledge bases, split by whether the query's relevant section got a stored
    translation: coverage is partial when the translator echoes sentences it cannot translate."""
    groups: dict[str, dict[str, list[float]]] = {}
    for qid, query in data.queries.items():
        relevant = {doc for doc, score in data.qrels[qid].items() if score > 0}
        group = "has a translation" if relevant & translated_docs else "has none"
        for name, mode in (("plain", plain), ("with_translations", translated)):
            ranked = mode(query.text, query.lang)[:10]
            rr = next((1 / rank for rank, doc in enumerate(ranked, 1) if doc in relevant), 0.0)
            groups.setdefault(group, {}).setdefault(name, []).append(rr)
    return {
        group: {
            "queries": len(rows["plain"]),
            **{name: round(sum(v) / len(v), 4) for name, v in rows.items()},
        }
        for group, rows in groups.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--cache-dir", type=Path, required=True, help="models + translation cache")
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--distractors", type=int, default=None, help="default: as many as queries")
    parser.add_argument("--chars", type=int, default=200)
    parser.add_argument("--target", default="zh")
    parser.add_argument("--out", type=Path, required=True, help="path stem for .json and .md")
    args = parser.parse_args()

    from babelrag.agents.config import load_settings
    from babelrag.agents.evaluation.beir import load_beir
    from babelrag.agents.evaluation.harness import prepare_corpus_kb, retrieval_modes
    from babelrag.agents.evaluation.retrieval_eval import run_retrieval_eval
    from babelrag.agents.runtime import Runtime

    data = subset(load_beir(args.dataset), args.queries, args.distractors or args.queries, args.chars)
    base = Runtime(load_settings(cache_dir=args.cache_dir))
    started = time.perf_counter()
    plain = prepare_corpus_kb(base, data)
    timings = {"ingest_plain_s": time.perf_counter() - started}
    report = run_retrieval_eval(data, modes=retrieval_modes(plain, data, k=10, modes=("dense", "translated")))

    settings = base.settings.model_copy(
        update={"ingest": base.settings.ingest.model_copy(update={"translate_to": [args.target]})}
    )
    translating = base.derive(settings)
    shared = translating.translator  # built here, so the runtimes derived from it share it and its count
    started = time.perf_counter()
    translated_rt = prepare_corpus_kb(translating, data)
    timings["ingest_translated_s"] = time.perf_counter() - started
    llm = shared.engine("llm")
    calls = llm.calls
    store = translated_rt.store()
    counts = {
        "documents": len(data.corpus),
        "queries": len(data.queries),
        "chunks_plain": plain.store().chunk_count(),
        "chunks_translated_kb": store.chunk_count(),
        "translations": sum(1 for _, _, m in store.iter_chunks() if m.get("translated_from")),
        "translator_calls": calls,
    }
    # chunks with no stored translation: it came back unchanged or in another language than asked
    counts["chunks_left_untranslated"] = counts["chunks_plain"] - counts["translations"]
    # the same corpus into a fresh knowledge base: every translation comes from the cache
    translated_rt.catalog().drop(translated_rt.settings.kb)
    started = time.perf_counter()
    prepare_corpus_kb(translating, data)
    timings["reingest_translated_s"] = time.perf_counter() - started
    counts["translator_calls_on_reingest"] = llm.calls - calls
    translated_modes = retrieval_modes(translated_rt, data, k=10, modes=("dense",))
    with_translations = run_retrieval_eval(data, modes=translated_modes)
    chunks = translated_rt.store().iter_chunks()  # reopened: the collection was dropped and rebuilt
    translated_docs = {str(m.get("doc_id")) for _, _, m in chunks if m.get("translated_from")}
    breakdown = _by_coverage(data, retrieval_modes(plain, data, k=10, modes=("dense",))["dense"],
                             translated_modes["dense"], translated_docs)  # fmt: skip

    rows = {
        "dense, English corpus": report.modes["dense"],
        "translated query (zh->en), English corpus": report.modes["translated"],
        f"dense, corpus + {args.target} translations at ingest": with_translations.modes["dense"],
    }
    result = {
        "dataset": str(args.dataset),
        "subset": {
            "queries": args.queries,
            "distractors": args.distractors or args.queries,
            "chars": args.chars,
        },
        "translator": llm.id,
        "counts": counts,
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "modes": {name: {k: round(v, 4) for k, v in r.metrics.items()} for name, r in rows.items()},
        "mrr10_by_coverage": breakdown,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    names = list(next(iter(result["modes"].values())))
    lines = ["| mode | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    lines += [
        f"| {mode} | " + " | ".join(f"{m[n]:.3f}" for n in names) + " |"
        for mode, m in result["modes"].items()
    ]
    lines += ["", "| queries whose relevant section | queries | MRR@10 plain | MRR@10 with translations |",
              "|---|---:|---:|---:|"]  # fmt: skip
    lines += [
        f"| {group} | {row['queries']} | {row['plain']:.3f} | {row['with_translations']:.3f} |"
        for group, row in breakdown.items()
    ]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(json.dumps(result, indent=2, ensure_ascii=False))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
