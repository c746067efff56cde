"""How the composition root loads Hugging Face models: the embedder, the generator, a translator.

Only :mod:`babelrag.agents.runtime` calls these (and the test session's fixtures, which share the
models they load); every failure becomes a :class:`ModelError` that says what to check.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from babelrag.stores.errors import ModelError

if TYPE_CHECKING:
    from babelrag.agents.config import Settings


def quiet_hf_logging() -> None:
    """Hugging Face progress bars and warnings would drown our own output."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    except ImportError:  # pragma: no cover
        pass


def resolve_dtype(wanted: str, device: str) -> str:
    """The generator's dtype: ``auto`` takes bfloat16 only where it is computed natively.

    bf16 halves the bytes read per token, which is what decoding waits for, but on a CPU without
    bf16 instructions (AVX2-only x86, for one) PyTorch emulates it and a matmul runs ~100x slower
    than in float32. oneDNN's own check says whether its fast bf16 kernels can run.
    """
    if wanted != "auto":
        return wanted
    import torch

    if device.startswith("cuda"):
        return "bfloat16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "float16"
    if device.startswith("mps"):
        return "float16"
    try:
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # not built with oneDNN, or the op was renamed
        native = False
    return "bfloat16" if native else "float32"


def load_causal_lm(location: str, settings: Settings):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    g = settings.generation
    torch.set_num_threads(g.threads or physical_cores())
    dtype = getattr(torch, resolve_dtype(g.dtype, settings.models.device))
    local = Path(location).exists()
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=local)
        model = AutoModelForCausalLM.from_pretrained(location, dtype=dtype, local_files_only=local)
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"cannot load the generator {location!r}: {exc}",
            hint="check models.generator: a babelrag/ pack name, a Hugging Face id or a model folder",
        ) from exc
    if getattr(tokenizer, "chat_template", None) is None:
        raise ModelError(
            f"the generator {location!r} has no chat template",
            hint="use an instruction-tuned (chat) model",
        )
    return model.to(settings.models.device).eval(), tokenizer


def load_seq2seq(location: str, device: str):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    local = Path(location).exists()
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=local)
        model = AutoModelForSeq2SeqLM.from_pretrained(location, local_files_only=local)
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"cannot load the translation model {location!r}: {exc}",
            hint="translation.model must be an encoder-decoder translation model (MarianMT, NLLB, M2M100)",
        ) from exc
    return model.to(device).eval(), tokenizer


def translation_pair(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    source, sep, target = value.partition("-")
    if not sep or not source or not target:
        raise ModelError(f"translation.model_pair must look like zh-en, got {value!r}")
    return source.lower(), target.lower()


def load_sentence_transformer(location: str, device: str):
    from sentence_transformers import SentenceTransformer

    local = Path(location).exists()
    try:
        return SentenceTransformer(location, device=device, local_files_only=local)
    except OSError as exc:
        raise ModelError(
            f"cannot load the embedding model {location!r}: {exc}",
            hint="check the name, your network (for Hugging Face ids) or run `babelrag models install`",
        ) from exc


def physical_cores() -> int:
    """Cores, not hardware threads: two threads of one core share its vector units, and a
    generator's matrix work slows down when both compete for them."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    cores: set[tuple[str, str]] = set()
    physical = core = ""
    for line in [*text.splitlines(), ""]:
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "physical id":
            physical = value
        elif key == "core id":
            core = value
        elif not key and core:
            cores.add((physical, core))
            physical = core = ""
    return len(cores) or os.cpu_count() or 1


def gguf_file(location: str) -> Path | None:
    """The GGUF file a model location names: the file itself, or the one ``.gguf`` in a folder."""
    path = Path(location)
    if path.is_file():
        return path if path.suffix.lower() == ".gguf" else None
    if not path.is_dir():
        return None
    found = sorted(path.glob("*.gguf"))
    if len(found) > 1:
        names = ", ".join(f.name for f in found)
        raise ModelError(f"{path} holds several GGUF files ({names})", hint="name the file itself")
    return found[0] if found else None


def choose_engine(wanted: str, location: str) -> str:
    """``auto``: llama.cpp for a GGUF, transformers otherwise; a mismatch is an error saying why."""
    gguf = gguf_file(location)
    if wanted == "auto":
        return "llama.cpp" if gguf else "transformers"
    if wanted == "llama.cpp" and gguf is None:
        raise ModelError(
            f"generation.engine = llama.cpp needs a GGUF file, but {location!r} is not one",
            hint="set models.generator to a .gguf file or a babelrag/...-gguf pack model, or engine = auto",
        )
    if wanted == "transformers" and gguf is not None and not (Path(location) / "config.json").exists():
        raise ModelError(
            f"{location!r} is a GGUF model, which the transformers engine does not run",
            hint="set generation.engine = auto (llama.cpp runs GGUF files)",
        )
    return wanted


def load_llama(path: Path, *, context_tokens: int, threads: int | None):
    """A llama.cpp context on a GGUF file. Several contexts on one file share its weights (mmap)."""
    try:
        from llama_cpp import Llama
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise ModelError(
            "the llama.cpp engine needs llama-cpp-python", hint="pip install llama-cpp-python"
        ) from exc
    n = threads or physical_cores()
    try:
        return Llama(
            model_path=str(path),
            n_ctx=context_tokens,
            n_threads=n,
            n_threads_batch=n,
            verbose=False,
        )
    except (ValueError, RuntimeError) as exc:
        raise ModelError(
            f"llama.cpp cannot load {path}: {exc}",
            hint="check that the file is a complete GGUF (`babelrag models install` verifies the pack's)",
        ) from exc
