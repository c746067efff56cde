"""Embedding throughput: babelrag's ``embed_documents`` vs plain ``SentenceTransformer.encode``.

Both run the same model object on the same passages with the same batch size and the e5
``passage: `` prompt, so the difference is babelrag's wrapper (prompt lookup, normalisation flag,
``.tolist()`` for the LangChain interface). Runs alternate between the two to cancel drift.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench.common import Table, bench_settings, fmt, passages, ratio, sample_chunks, timed

TITLE = "1. Embedding throughput (real model, sample KB passages)"


def run(quick: bool) -> dict[str, Any]:
    import numpy as np

    from babelrag.agents.runtime import Runtime

    n, reps = (50, 2) if quick else (200, 2)
    with tempfile.TemporaryDirectory() as tmp:
        runtime = Runtime(bench_settings(Path(tmp)))
        embedder = runtime.embedder
        texts = passages(sample_chunks(runtime.chunker()), n)
    model, batch = embedder.model, embedder.batch_size
    prompt = "passage: "
    tokens = _tokens(model, [prompt + t for t in texts])

    def ours() -> Any:
        return embedder.embed_documents(texts)

    def plain() -> Any:
        return model.encode(texts, prompt=prompt, batch_size=batch)

    model.encode(texts[: 2 * batch], prompt=prompt, batch_size=batch)  # warm-up
    samples: dict[str, list[float]] = {"babelrag": [], "baseline": []}
    outputs: dict[str, Any] = {}
    for rep in range(reps):
        order = [("babelrag", ours), ("baseline", plain)]
        for name, fn in order if rep % 2 == 0 else order[::-1]:
            seconds, outputs[name] = timed(fn)
            samples[name].append(seconds)
    diff = float(np.abs(np.asarray(outputs["babelrag"]) - np.asarray(outputs["baseline"])).max())
    result: dict[str, Any] = {
        "passages": n,
        "mean_chars": sum(map(len, texts)) / n,
        "tokens": tokens,
        "batch_size": batch,
        "document_prompt": embedder.document_prompt,
        "repetitions": reps,
        "max_abs_diff": diff,
    }
    for name, seconds in samples.items():
        best = min(seconds)
        result[name] = {"seconds": seconds, "passages_per_s": n / best, "tokens_per_s": tokens / best}
    return result


def _tokens(model: Any, texts: list[str]) -> int:
    """Tokens the model actually reads: prompt included, special tokens, cut at max_seq_length."""
    encoded = model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)
    return sum(len(ids) for ids in encoded["input_ids"])


def table(r: dict[str, Any]) -> Table:
    ours, base = r["babelrag"], r["baseline"]
    return Table(
        TITLE,
        ["figure", "babelrag embed_documents", "SentenceTransformer.encode", "babelrag / baseline"],
        [
            [
                "passages/s",
                fmt(ours["passages_per_s"]),
                fmt(base["passages_per_s"]),
                ratio(ours["passages_per_s"], base["passages_per_s"]),
            ],
            [
                "tokens/s",
                fmt(ours["tokens_per_s"], 0),
                fmt(base["tokens_per_s"], 0),
                ratio(ours["tokens_per_s"], base["tokens_per_s"]),
            ],
        ],
        [
            f"{r['passages']} passages of ~{r['mean_chars']:.0f} characters ({r['tokens']:,} tokens with "
            f"prompt, cut at 512), batch size {r['batch_size']}, prompt {r['document_prompt']!r}; "
            f"best of {r['repetitions']} alternating runs.",
            f"Largest difference between the two outputs: {r['max_abs_diff']:.1e} (same vectors).",
        ],
    )
