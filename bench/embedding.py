"""Embedding throughput: babelrag's ``embed_documents`` on each backend vs ``SentenceTransformer.encode``.

The torch backend and the baseline run the same model object on the same passages with the same
batch size and the e5 ``passage: `` prompt, so their difference is babelrag's wrapper (prompt
lookup, normalisation flag, ``.tolist()`` for the LangChain interface). The onnx-int8 backend runs
the int8 ONNX graph of the same model through ONNX Runtime (``models.embedding_backend``); its
vectors are compared with the torch ones by cosine; the same graph running each text alone (its
vectors then do not depend on its batch-mates) is measured beside it. Runs alternate the order to
cancel drift; the int8 graph is built first if the cache does not hold it yet (timed apart).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Table, bench_settings, fmt, passages, ratio, sample_chunks, timed

TITLE = "1. Embedding throughput (real model, sample KB passages): torch fp32 vs ONNX int8"
RUNS = ("torch", "onnx-int8", "onnx-int8-alone", "baseline")
_HOW_LOADED = {
    True: "building its graph first",
    False: "its graph from the cache",
    None: "graph built if not cached",
}


def run(quick: bool) -> dict[str, Any]:
    import numpy as np
    import torch

    from babelrag.agents.hf_models import ONNX_MANIFEST, int8_target, onnx_int8_folder
    from babelrag.agents.runtime import Runtime
    from babelrag.stores.embeddings import SentenceTransformerEmbeddings

    n, reps = (50, 2) if quick else (200, 3)
    with tempfile.TemporaryDirectory() as tmp:
        runtime = Runtime(bench_settings(Path(tmp), models={"embedding_backend": "torch"}))
        started = time.perf_counter()
        torch_embedder = runtime.embedder
        torch_load_s = time.perf_counter() - started
        texts = passages(sample_chunks(runtime.chunker()), n)
        int8_runtime = Runtime(bench_settings(Path(tmp), models={"embedding_backend": "onnx-int8"}))
        location, cache_dir = runtime.resolve(runtime.settings.models.embedder), runtime.settings.cache_dir
        built = not (onnx_int8_folder(location, cache_dir, int8_target()) / ONNX_MANIFEST).exists()
        started = time.perf_counter()
        int8_embedder = int8_runtime.embedder  # builds the graph when the cache lacks it
        int8_load_s = time.perf_counter() - started
    model, batch = torch_embedder.model, torch_embedder.batch_size
    # the same int8 graph, one text per run (models.embedding_batch_size = 1)
    int8_alone = SentenceTransformerEmbeddings(
        int8_embedder.model, model_id=int8_embedder.model_id, batch_size=1
    )
    prompt = "passage: "
    tokens = _tokens(model, [prompt + t for t in texts])

    fns = {
        "torch": lambda: torch_embedder.embed_documents(texts),
        "onnx-int8": lambda: int8_embedder.embed_documents(texts),
        "onnx-int8-alone": lambda: int8_alone.embed_documents(texts),
        "baseline": lambda: model.encode(texts, prompt=prompt, batch_size=batch),
    }
    for embedder in (torch_embedder, int8_embedder):  # warm-up
        embedder.model.encode(texts[: 2 * batch], prompt=prompt, batch_size=batch)
    samples: dict[str, list[float]] = {name: [] for name in RUNS}
    outputs: dict[str, Any] = {}
    load = [os.getloadavg()[0]]
    for rep in range(reps):
        for name in RUNS if rep % 2 == 0 else RUNS[::-1]:
            seconds, outputs[name] = timed(fns[name])
            samples[name].append(seconds)
        load.append(os.getloadavg()[0])
    fp32, int8 = np.asarray(outputs["torch"]), np.asarray(outputs["onnx-int8"])
    cosine = (fp32 * int8).sum(axis=1)  # both are normalised
    alone_cosine = (fp32 * np.asarray(outputs["onnx-int8-alone"])).sum(axis=1)
    result: dict[str, Any] = {
        "passages": n,
        "mean_chars": sum(map(len, texts)) / n,
        "tokens": tokens,
        "batch_size": batch,
        "document_prompt": torch_embedder.document_prompt,
        "repetitions": reps,
        "max_abs_diff": float(np.abs(fp32 - np.asarray(outputs["baseline"])).max()),
        "int8_cosine": {"min": float(cosine.min()), "mean": float(cosine.mean())},
        "int8_alone_cosine": {"min": float(alone_cosine.min()), "mean": float(alone_cosine.mean())},
        "int8_target": int8_target(),
        "load_s": {"torch": torch_load_s, "onnx-int8": int8_load_s},
        "int8_built": built,
        "torch_threads": torch.get_num_threads(),
        "loadavg_1min_during": load,
    }
    for name, seconds in samples.items():
        best = min(seconds)
        result[name] = {"seconds": seconds, "passages_per_s": n / best, "tokens_per_s": tokens / best}
    result["embeddinggemma"] = _gemma(texts[: max(10, n // 4)])
    return result


def _gemma(texts: list[str]) -> dict[str, Any] | None:
    """EmbeddingGemma-300M on the first of the same passages, if installed (optional: Gemma terms)."""
    from babelrag.agents.modelpack.registry import ModelPack
    from babelrag.agents.runtime import Runtime

    name = "babelrag/embeddinggemma-300m"
    with tempfile.TemporaryDirectory() as tmp:
        settings = bench_settings(Path(tmp), models={"embedder": name})
        if not ModelPack(settings.cache_dir).status(name).installed:
            return None
        embedder = Runtime(settings).embedder
        embedder.embed_documents(texts[:4])  # warm-up
        seconds, _ = timed(lambda: embedder.embed_documents(texts))
    return {"passages": len(texts), "seconds": seconds, "passages_per_s": len(texts) / seconds}


def _tokens(model: Any, texts: list[str]) -> int:
    """Tokens the model actually reads: prompt included, special tokens, cut at max_seq_length."""
    encoded = model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)
    return sum(len(ids) for ids in encoded["input_ids"])


def table(r: dict[str, Any]) -> Table:
    fp32, int8, base = r["torch"], r["onnx-int8"], r["baseline"]
    alone = r.get("onnx-int8-alone")  # results from before session 5 have none
    rows = [
        [
            label,
            fmt(fp32[key], digits),
            fmt(int8[key], digits),
            *([fmt(alone[key], digits)] if alone else []),
            fmt(base[key], digits),
            ratio(int8[key], fp32[key]),
            *([ratio(alone[key], int8[key])] if alone else []),
            ratio(fp32[key], base[key]),
        ]
        for label, key, digits in (("passages/s", "passages_per_s", 1), ("tokens/s", "tokens_per_s", 0))
    ]
    load = r.get("loadavg_1min_during", [])
    runs = "four" if alone else "three"
    alone_note = (
        [
            f"onnx-int8 alone: the same graph on one text at a time (its vector then does not depend on "
            f"what it is embedded with); cosine to the torch vectors min "
            f"{r['int8_alone_cosine']['min']:.4f}, mean {r['int8_alone_cosine']['mean']:.4f}. "
            "Not the default: dense retrieval ranked lower "
            "(README, int8 embeddings)."
        ]
        if alone
        else []
    )
    return Table(
        TITLE,
        [
            "figure",
            "babelrag torch (fp32)",
            "babelrag onnx-int8",
            *(["onnx-int8 alone"] if alone else []),
            "SentenceTransformer.encode",
            "int8 / torch",
            *(["alone / batched"] if alone else []),
            "torch / baseline",
        ],
        rows,
        [
            f"{r['passages']} passages of ~{r['mean_chars']:.0f} characters ({r['tokens']:,} tokens with "
            f"prompt, cut at 512), batch size {r['batch_size']}, prompt {r['document_prompt']!r}; "
            f"best of {r['repetitions']} runs alternating the order of the {runs}.",
            f"onnx-int8: dynamic int8 quantization for {r['int8_target']}; cosine to the torch vectors of "
            f"the same passages min {r['int8_cosine']['min']:.4f}, mean {r['int8_cosine']['mean']:.4f}. "
            f"Loading took {r['load_s']['torch']:.1f} s (torch) and {r['load_s']['onnx-int8']:.1f} s "
            f"(onnx-int8, {_HOW_LOADED[r.get('int8_built')]}).",
            *alone_note,
            *_gemma_note(r),
            f"torch and the baseline differ by at most {r['max_abs_diff']:.1e} (same vectors). "
            f"torch threads {r['torch_threads']}, ONNX Runtime its default (physical cores); "
            f"1-min load average during the runs {', '.join(f'{x:.1f}' for x in load)}.",
        ],
    )


def _gemma_note(r: dict[str, Any]) -> list[str]:
    gemma = r.get("embeddinggemma")
    if not gemma:
        return [
            "EmbeddingGemma-300M is not installed, so not measured "
            "(`babelrag models install embeddinggemma-300m --accept-license`)."
        ]
    rate = gemma["passages_per_s"]
    return [
        f"EmbeddingGemma-300M (torch fp32, its document prompt), the first {gemma['passages']} of the same "
        f"passages, one run: {rate:.2f} passages/s, {r['torch']['passages_per_s'] / rate:.1f}× the time of "
        f"e5 fp32 and {r['onnx-int8']['passages_per_s'] / rate:.1f}× that of e5 int8."
    ]
