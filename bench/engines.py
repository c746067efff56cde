"""Generation engines side by side, each against the machine's own bounds measured in the same run.

Every generator available (transformers 0.5B at dtype auto, llama.cpp 0.5B and 1.5B GGUF) gets the
same ~600-token prompt and 64 new tokens, greedy, batch 1, through ``LocalChatModel`` as every
chain calls it: median of 3 runs (quick: 1), alternating between the engines. Each engine is loaded in a
worker process of its own (:mod:`bench.workers`), so its peak memory is its own.

- Decode is bound by memory bandwidth: one token reads every weight it uses once, so
  ``bandwidth / bytes per token`` bounds decode tokens/s. Bandwidth: a ~1 GiB copy, read +
  written bytes / time, best of 5, numpy (one thread) and torch (all threads), the faster counts.
  Bytes per token: every weight tensor, with the token embedding in full when the output layer is
  tied to it (it is read as the output layer), else one row of it plus the output layer; a GGUF's
  tensor sizes come from its tensor table (``gguf.GGUFReader``), so quantisation counts as stored.
- Prefill is bound by compute: a prompt token costs ``2 × non-embedding parameters`` FLOPs (the
  output layer runs for the last prompt token only; attention over the prompt is left out), so
  ``matmul FLOP/s / that`` bounds prefill tokens/s. FLOP/s: torch float32 matmul of two square
  matrices on all physical cores, best of 5.
"""

from __future__ import annotations

import statistics
import tempfile
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.common import SAMPLE_KB, Table, available_generators, bench_settings, fmt, timed
from bench.workers import Worker, WorkerError

TITLE = "4. Generation engines (same prompt, greedy, batch 1) against the machine's bounds"
PROMPT_TOKENS, NEW_TOKENS = 600, 64
ENGLISH_DOCS = ("tea/green-tea-brewing.md", "rhine/middle-rhine-valley.md", "bike/fix-a-flat-tyre.md")
TARGETS = {"decode_pct": 70, "prefill_pct": 50}  # for llama.cpp; see bench/README.md


def run(quick: bool) -> dict[str, Any]:
    reps = 1 if quick else 3
    generators, skipped = available_generators()
    with Worker(MachineBounds) as machine:  # alone, before any model is loaded
        bounds = machine.call("measure", quick=quick)
    engines: dict[str, dict[str, Any]] = {}
    with ExitStack() as stack:
        workers = {}
        for generator, location in generators:
            worker = stack.enter_context(Worker(EngineBench, location, generator.engine))
            try:
                engines[generator.label] = {
                    "model": generator.model,
                    "size": generator.size,
                    **worker.call("load"),
                }
            except WorkerError as exc:
                skipped.append(f"{generator.label} failed to load: {str(exc).strip().splitlines()[-1]}")
                continue
            workers[generator.label] = worker
        if not workers:
            return {"bounds": bounds, "engines": {}, "skipped": skipped, "reps": reps}
        text = next(iter(workers.values())).call("prompt_text", tokens=PROMPT_TOKENS)
        for worker in workers.values():  # pages the weights in, starts the thread pools
            worker.call("generate", text=text, new_tokens=4)
        runs: dict[str, list[dict[str, Any]]] = {label: [] for label in workers}
        for _ in range(reps):
            for label, worker in workers.items():
                runs[label].append(worker.call("generate", text=text, new_tokens=NEW_TOKENS))
        for label, worker in workers.items():
            engines[label].update(
                runs=runs[label], weights=worker.call("weights"), memory=worker.call("memory")
            )
    for engine in engines.values():
        engine.update(_speeds(engine, bounds))
    return {"bounds": bounds, "engines": engines, "skipped": skipped, "reps": reps}


def _speeds(engine: dict[str, Any], bounds: dict[str, Any]) -> dict[str, Any]:
    runs, weights = engine["runs"], engine["weights"]
    prefill = statistics.median(r["prompt_tokens"] / r["prefill_s"] for r in runs)
    decode = statistics.median(r["decode_tokens_per_s"] for r in runs)
    decode_bound = bounds["bandwidth"]["best_gbs"] * 1e9 / weights["bytes_per_token"]
    prefill_bound = bounds["matmul"]["float32_gflops"] * 1e9 / (2 * weights["non_embedding_parameters"])
    return {
        "prompt_tokens": runs[0]["prompt_tokens"],
        "completion_tokens": [r["completion_tokens"] for r in runs],
        "prefill_tokens_per_s": prefill,
        "decode_tokens_per_s": decode,
        "decode_bound_tokens_per_s": decode_bound,
        "prefill_bound_tokens_per_s": prefill_bound,
        "decode_pct_of_bound": 100 * decode / decode_bound,
        "prefill_pct_of_bound": 100 * prefill / prefill_bound,
    }


# -- the machine's bounds (in a worker of its own) ------------------------------------------
class MachineBounds:
    def measure(self, quick: bool) -> dict[str, Any]:
        return {"bandwidth": memory_bandwidth(), "matmul": matmul_flops(2048 if quick else 4096)}


def memory_bandwidth(gib: float = 1.0, reps: int = 5) -> dict[str, float]:
    """Copy bandwidth in GB/s (10^9 bytes; read + written bytes per second)."""
    import numpy as np
    import torch

    from babelrag.agents.hf_models import physical_cores

    torch.set_num_threads(physical_cores())
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


def matmul_flops(n: int, reps: int = 5) -> dict[str, Any]:
    """FLOP/s of an ``n × n`` by ``n × n`` matmul (2n³ FLOPs), best of ``reps``, on all physical cores.

    float32 is the bound; bfloat16 is measured too where the CPU computes it natively (the
    transformers engine runs in it there), for reference.
    """
    import torch

    from babelrag.agents.hf_models import physical_cores, resolve_dtype

    torch.set_num_threads(physical_cores())
    out: dict[str, Any] = {"n": n, "reps": reps, "threads": torch.get_num_threads()}
    dtypes = ["float32"] + (["bfloat16"] if resolve_dtype("auto", "cpu") == "bfloat16" else [])
    for name in dtypes:
        a, b = (torch.randn(n, n).to(getattr(torch, name)) for _ in range(2))
        torch.mm(a, b)  # warm-up
        best = min(timed(lambda a=a, b=b: torch.mm(a, b))[0] for _ in range(reps))
        out[f"{name}_gflops"] = 2 * n**3 / best / 1e9
    return out


# -- one engine (in a worker of its own) -----------------------------------------------------
class EngineBench:
    """A generator loaded through the composition root, as ``babelrag ask`` loads it."""

    def __init__(self, model: str, engine: str) -> None:
        self.model, self.engine = model, engine
        self._home = tempfile.TemporaryDirectory(prefix="babelrag-bench-")
        self.llm: Any = None

    def load(self) -> dict[str, Any]:
        from langchain_core.messages import HumanMessage

        from babelrag.agents.runtime import Runtime

        settings = bench_settings(
            Path(self._home.name), models={"generator": self.model}, generation={"engine": self.engine}
        )
        runtime = Runtime(settings)
        load_s, self.llm = timed(lambda: runtime.llm)
        self.decoding = runtime.decoding(strategy="greedy", max_new_tokens=NEW_TOKENS)
        first_s, _ = timed(
            lambda: self.llm.invoke(
                [HumanMessage("Say OK.")], decoding=self.decoding.with_overrides(max_new_tokens=1)
            )
        )
        return {"engine": self.llm._llm_type, "load_s": load_s, "first_reply_s": first_s}

    def prompt_text(self, tokens: int) -> str:
        """English text for a translation prompt of about ``tokens`` tokens: 64 new ones never end it."""
        from babelrag.stores.loaders import FileLoader

        text = "\n\n".join(
            doc.page_content for name in ENGLISH_DOCS for doc in FileLoader(SAMPLE_KB / name).load()
        )
        low, high = 0, len(text)
        while low < high:  # the longest prefix whose prompt fits, by bisection on characters
            mid = (low + high + 1) // 2
            if self.llm.prompt_tokens(_messages(text[:mid])) <= tokens:
                low = mid
            else:
                high = mid - 1
        return text[:low]

    def generate(self, text: str, new_tokens: int) -> dict[str, Any]:
        """One generation from an empty cache: llama.cpp would otherwise reuse the whole prompt."""
        llama = getattr(self.llm, "llama", None)
        if llama is not None:
            llama.reset()
        decoding = self.decoding.with_overrides(max_new_tokens=new_tokens)
        return dict(self.llm.invoke(_messages(text), decoding=decoding).response_metadata)

    def weights(self) -> dict[str, Any]:
        llama = getattr(self.llm, "llama", None)
        if llama is not None:
            return gguf_weights(Path(llama.model_path))
        return torch_weights(self.llm.model)

    def close(self) -> None:
        self._home.cleanup()


def _messages(text: str) -> list[Any]:
    from langchain_core.messages import HumanMessage, SystemMessage

    return [
        SystemMessage("You are a careful translator."),
        HumanMessage(f"Translate the whole text below into German.\n\n{text}"),
    ]


def gguf_weights(path: Path) -> dict[str, Any]:
    """Parameters and bytes per decoded token of a GGUF, from its tensor table."""
    from gguf import GGUFReader

    tensors = {t.name: t for t in GGUFReader(path).tensors}
    embedding, output = tensors["token_embd.weight"], tensors.get("output.weight")
    total = sum(int(t.n_bytes) for t in tensors.values())
    params = sum(int(t.n_elements) for t in tensors.values())
    vocab = int(embedding.shape[1])  # GGUF shapes are (columns, rows)
    tied = output is None
    types: Counter[str] = Counter()
    for t in tensors.values():
        types[t.tensor_type.name] += int(t.n_bytes)
    return {
        "parameters": params,
        "non_embedding_parameters": params
        - int(embedding.n_elements)
        - (0 if output is None else int(output.n_elements)),
        "weight_bytes": total,
        "bytes_per_token": total
        if tied
        else total - int(embedding.n_bytes) + int(embedding.n_bytes) // vocab,
        "tied": tied,
        "dtype": "/".join(name for name, _ in types.most_common(4)),
    }


def torch_weights(model: Any) -> dict[str, Any]:
    """The same figures for a transformers model (tied parameters appear once)."""
    params = dict(model.named_parameters())
    total = sum(p.numel() * p.element_size() for p in params.values())
    embedding = model.get_input_embeddings().weight
    output = model.get_output_embeddings()
    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    row = embedding.shape[1] * embedding.element_size()
    embedding_params = embedding.numel() + (0 if tied or output is None else output.weight.numel())
    return {
        "parameters": sum(p.numel() for p in params.values()),
        "non_embedding_parameters": sum(p.numel() for p in params.values()) - embedding_params,
        "weight_bytes": total,
        "bytes_per_token": total if tied else total - embedding.numel() * embedding.element_size() + row,
        "tied": tied,
        "dtype": str(next(iter(params.values())).dtype).removeprefix("torch."),
    }


# -- the table -------------------------------------------------------------------------------
def table(r: dict[str, Any]) -> Table:
    bw, mm = r["bounds"]["bandwidth"], r["bounds"]["matmul"]
    rows = []
    for label, e in r["engines"].items():
        if "runs" not in e:
            continue
        w = e["weights"]
        rows.append(
            [
                f"{label} ({w['dtype']})",
                fmt(e["load_s"], 1),
                fmt(e["memory"]["peak_rss_mb"], 0),
                f"{w['non_embedding_parameters'] / 1e6:,.0f} M / {w['bytes_per_token'] / 1e6:,.0f} MB",
                fmt(e["prefill_tokens_per_s"], 0),
                fmt(e["prefill_bound_tokens_per_s"], 0),
                f"{e['prefill_pct_of_bound']:.0f} %",
                fmt(e["decode_tokens_per_s"], 1),
                fmt(e["decode_bound_tokens_per_s"], 1),
                f"{e['decode_pct_of_bound']:.0f} %",
            ]
        )
    bf16 = f"; bfloat16 {mm['bfloat16_gflops']:,.0f} GFLOP/s" if "bfloat16_gflops" in mm else ""
    notes = [
        f"Decode bound = memory bandwidth / bytes read per token. Bandwidth: copy of "
        f"{bw['bytes_moved_gb'] / 2:.2f} GB, best of 5, read + write: numpy {bw['numpy_gbs']:.1f} GB/s, "
        f"torch ({bw['torch_threads']} threads) {bw['torch_gbs']:.1f} GB/s; the bound uses "
        f"{bw['best_gbs']:.1f} GB/s.",
        f"Prefill bound = matmul FLOP/s / (2 × non-embedding parameters). FLOP/s: torch float32 "
        f"{mm['n']}×{mm['n']} matmul on {mm['threads']} threads, best of {mm['reps']}: "
        f"{mm['float32_gflops']:,.0f} GFLOP/s{bf16}.",
        f"Prompt {_prompt_tokens(r)} tokens, {NEW_TOKENS} new tokens (greedy, repetition penalty from "
        f"settings), {_runs(r.get('reps', 3))} per engine, alternating between engines; llama.cpp's cache "
        "emptied before each. Prefill = prompt tokens / time to first token; decode = (new tokens - 1) "
        "/ the rest.",
        "Targets for llama.cpp: decode ≥ "
        f"{TARGETS['decode_pct']} % and prefill ≥ {TARGETS['prefill_pct']} % of the bound. Load = building "
        "the model through the runtime (a GGUF is mapped, its pages are read on first use); peak RSS = "
        "ru_maxrss of the engine's own process.",
    ]
    notes += _speedups(r["engines"])
    notes += [_engine_note(label, e, mm) for label, e in r["engines"].items()]
    notes += r["skipped"]
    return Table(
        TITLE,
        [
            "engine, model (weights)",
            "load s",
            "peak RSS MB",
            "non-emb. params / bytes per token",
            "prefill tok/s",
            "prefill bound",
            "prefill % of bound",
            "decode tok/s",
            "decode bound",
            "decode % of bound",
        ],
        rows,
        notes,
    )


def _engine_note(label: str, e: dict[str, Any], matmul: dict[str, Any]) -> str:
    """How its bytes per token were counted, and for a bfloat16 engine its prefill against bf16 matmul."""
    w = e["weights"]
    note = (
        f"{label}: {w['parameters'] / 1e6:,.0f} M parameters, {w['weight_bytes'] / 1e6:,.0f} MB of weights; "
        + (
            "output layer tied to the token embedding (read once)."
            if w["tied"]
            else "output layer separate (read in full; the token embedding: one row)."
        )
    )
    if w["dtype"] == "bfloat16" and "bfloat16_gflops" in matmul:
        bound = matmul["bfloat16_gflops"] * 1e9 / (2 * w["non_embedding_parameters"])
        note += (
            f" It computes in bfloat16: against the bfloat16 matmul rate ({bound:,.0f} tok/s) its "
            f"prefill is {100 * e['prefill_tokens_per_s'] / bound:.0f} %."
        )
    return note


def _runs(reps: int) -> str:
    return f"median of {reps} runs" if reps > 1 else "one run"


def _prompt_tokens(r: dict[str, Any]) -> str:
    counts = {e["prompt_tokens"] for e in r["engines"].values() if "prompt_tokens" in e}
    return " / ".join(str(c) for c in sorted(counts)) or "—"


def _speedups(engines: dict[str, dict[str, Any]]) -> list[str]:
    """llama.cpp over transformers at the same model size."""
    out = []
    for label, e in engines.items():
        if not label.startswith("llama.cpp") or "runs" not in e:
            continue
        base = engines.get(f"transformers {e['size']}")
        if base and "runs" in base:
            out.append(
                f"{label} speedup over transformers {e['size']}: prefill "
                f"{e['prefill_tokens_per_s'] / base['prefill_tokens_per_s']:.1f}×, decode "
                f"{e['decode_tokens_per_s'] / base['decode_tokens_per_s']:.1f}×."
            )
    return out
