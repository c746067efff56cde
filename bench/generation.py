"""Generation speed of the packaged Qwen through ``LocalChatModel`` vs the memory-bandwidth bound.

Decoding one token reads every weight once (batch 1), so ``bandwidth / bytes of weights`` is an
upper bound on decode tokens/s. Bandwidth is measured here, in the same run: a ~1 GiB copy, best
of 5, bytes read + written / time, with numpy (one thread) and torch (all threads); the bound
uses the faster. The input embedding matrix counts once when the LM head shares it (tied), else
only the one row a lookup reads.
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import SAMPLE_KB, Table, bench_settings, fmt, timed

TITLE = "4. Generation speed (packaged Qwen2.5-Coder-0.5B, greedy, batch 1)"
PROMPT_TOKENS, NEW_TOKENS = 600, 64
ENGLISH_DOCS = ("tea/green-tea-brewing.md", "rhine/middle-rhine-valley.md", "bike/fix-a-flat-tyre.md")


def run(quick: bool) -> dict[str, Any]:
    bandwidth = memory_bandwidth()
    result: dict[str, Any] = {"bandwidth": bandwidth, "dtypes": {}}
    for dtype in ("bfloat16",) if quick else ("bfloat16", "float32"):
        result["dtypes"][dtype] = _measure(dtype, bandwidth["best_gbs"], reps=3)
        gc.collect()
    return result


def memory_bandwidth(gib: float = 1.0, reps: int = 5) -> dict[str, float]:
    """Copy bandwidth in GB/s (10^9 bytes; read + written bytes per second)."""
    import numpy as np
    import torch

    src = np.full(int(gib * 2**30 / 8), 1.0)
    dst = np.empty_like(src)
    moved = 2 * src.nbytes / 1e9
    numpy_s = min(timed(lambda: np.copyto(dst, src))[0] for _ in range(reps))
    a, b = torch.from_numpy(src), torch.from_numpy(dst)
    torch_s = min(timed(lambda: b.copy_(a))[0] for _ in range(reps))
    out = {"bytes_moved_gb": moved, "numpy_gbs": moved / numpy_s, "torch_gbs": moved / torch_s}
    out["best_gbs"] = max(out["numpy_gbs"], out["torch_gbs"])
    out["torch_threads"] = torch.get_num_threads()
    return out


def weight_bytes_per_token(model: Any) -> dict[str, Any]:
    """Bytes of weights one decoded token reads."""
    params = dict(model.named_parameters())  # tied parameters appear once
    total = sum(p.numel() * p.element_size() for p in params.values())
    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    embedding = model.get_input_embeddings().weight
    row = embedding.shape[1] * embedding.element_size()
    per_token = total if tied else total - embedding.numel() * embedding.element_size() + row
    return {
        "parameters": sum(p.numel() for p in params.values()),
        "weight_bytes": total,
        "tie_word_embeddings": tied,
        "bytes_per_token": per_token,
        "dtype": str(next(iter(params.values())).dtype).removeprefix("torch."),
    }


def _measure(dtype: str, bandwidth_gbs: float, reps: int) -> dict[str, Any]:
    from babelrag.agents.runtime import Runtime

    with tempfile.TemporaryDirectory() as tmp:
        runtime = Runtime(bench_settings(Path(tmp), generation={"dtype": dtype}))
        load_s, llm = timed(lambda: runtime.llm)
    messages = _prompt(llm)
    decoding = runtime.decoding(strategy="greedy", max_new_tokens=NEW_TOKENS)
    llm.invoke(messages, decoding=decoding.with_overrides(max_new_tokens=4))  # warm-up
    runs, bare = [], []
    for _ in range(reps):  # interleaved, so drift hits both alike
        runs.append(dict(llm.invoke(messages, decoding=decoding).response_metadata))
        bare.append(_bare_generate(llm, messages, decoding.repetition_penalty))
    weights = weight_bytes_per_token(llm.model)
    bound = bandwidth_gbs * 1e9 / weights["bytes_per_token"]
    ours = {
        "prefill_tokens_per_s": statistics.median(r["prompt_tokens"] / r["prefill_s"] for r in runs),
        "decode_tokens_per_s": statistics.median(r["decode_tokens_per_s"] for r in runs),
        "completion_tokens": statistics.median(r["completion_tokens"] for r in runs),
    }
    plain = {key: statistics.median(b[key] for b in bare) for key in ours}
    return {
        "load_s": load_s,
        "runs": runs,
        "bare_runs": bare,
        "prompt_tokens": runs[0]["prompt_tokens"],
        "local_chat_model": ours,
        "bare_generate": plain,
        "bound_tokens_per_s": bound,
        "decode_pct_of_bound": 100 * ours["decode_tokens_per_s"] / bound,
        "bare_decode_pct_of_bound": 100 * plain["decode_tokens_per_s"] / bound,
        **weights,
    }


def _bare_generate(llm: Any, messages: list[Any], repetition_penalty: float) -> dict[str, float]:
    """The same prompt through plain ``model.generate``: no streamer, no LangChain.

    Prefill = a 1-token generate; decode = the extra time of the full one. It runs in a worker
    thread as LocalChatModel's does: on a loaded machine, generate in the main thread was 2-4x
    slower here (its OpenMP threads spin at every op's barrier while the cores are taken).
    """
    import torch

    roles = {"system": "system", "human": "user"}
    chat = [{"role": roles[m.type], "content": m.content} for m in messages]
    inputs = llm.tokenizer.apply_chat_template(
        chat, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    n_prompt = int(inputs["input_ids"].shape[-1])
    kwargs = {**inputs, "do_sample": False, "repetition_penalty": repetition_penalty}
    kwargs["pad_token_id"] = llm.tokenizer.eos_token_id

    def generate(n: int) -> tuple[float, Any]:
        with torch.inference_mode():
            return timed(lambda: llm.model.generate(**kwargs, max_new_tokens=n))

    first_s, _ = _in_worker(lambda: generate(1))
    total_s, output = _in_worker(lambda: generate(NEW_TOKENS))
    n_new = int(output.shape[-1]) - n_prompt
    return {
        "prefill_tokens_per_s": n_prompt / first_s,
        "decode_tokens_per_s": (n_new - 1) / (total_s - first_s),
        "completion_tokens": n_new,
    }


def _in_worker(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a fresh thread and return its result."""
    out: list[Any] = []
    worker = threading.Thread(target=lambda: out.append(fn()), name="bench-generate")
    worker.start()
    worker.join()
    return out[0]


def _prompt(llm: Any) -> list[Any]:
    """A translation request of about PROMPT_TOKENS tokens: long enough that 64 tokens never end it."""
    from langchain_core.messages import HumanMessage, SystemMessage

    from babelrag.stores.loaders import FileLoader

    def messages(text: str) -> list[Any]:
        return [
            SystemMessage("You are a careful translator."),
            HumanMessage(f"Translate the whole text below into German.\n\n{text}"),
        ]

    text = "\n\n".join(
        doc.page_content for name in ENGLISH_DOCS for doc in FileLoader(SAMPLE_KB / name).load()
    )
    budget = PROMPT_TOKENS - llm.prompt_tokens(messages(""))
    ids = llm.tokenizer(text, add_special_tokens=False)["input_ids"][:budget]
    return messages(llm.tokenizer.decode(ids))


def table(r: dict[str, Any]) -> Table:
    bw = r["bandwidth"]
    rows = []
    for dtype, d in r["dtypes"].items():
        weights = f"{d['parameters'] / 1e6:,.0f} M / {d['bytes_per_token'] / 1e6:,.0f} MB"
        for label, key in (("LocalChatModel", "local_chat_model"), ("bare model.generate", "bare_generate")):
            speed = d[key]
            rows.append(
                [
                    f"{dtype}, {label}",
                    weights,
                    fmt(speed["prefill_tokens_per_s"], 0),
                    fmt(speed["decode_tokens_per_s"], 1),
                    fmt(d["bound_tokens_per_s"], 1),
                    f"{100 * speed['decode_tokens_per_s'] / d['bound_tokens_per_s']:.0f} %",
                ]
            )
    first = next(iter(r["dtypes"].values()))
    return Table(
        TITLE,
        [
            "weights, path",
            "params / bytes read per token",
            "prefill tok/s",
            "decode tok/s",
            "bandwidth bound tok/s",
            "decode % of bound",
        ],
        rows,
        [
            f"Memory bandwidth (copy of {bw['bytes_moved_gb'] / 2:.2f} GB, best of 5, read + write): "
            f"numpy {bw['numpy_gbs']:.1f} GB/s, torch ({bw['torch_threads']} threads) "
            f"{bw['torch_gbs']:.1f} GB/s; the bound uses {bw['best_gbs']:.1f} GB/s.",
            f"Prompt {first['prompt_tokens']} tokens, {NEW_TOKENS} new tokens (greedy, repetition penalty "
            "from settings), median of 3 interleaved runs per path. LocalChatModel: prefill = prompt "
            "tokens / time to first streamed token, decode = (new tokens - 1) / the rest; bare "
            "generate: prefill = a 1-token generate, decode = the extra time of the 64-token one; "
            "both run generate in a worker thread.",
            f"tie_word_embeddings = {first['tie_word_embeddings']}: "
            + (
                "the LM head is the embedding matrix, so it is read once per token."
                if first["tie_word_embeddings"]
                else "the input embedding counts one row per token, the LM head in full."
            ),
        ],
    )
