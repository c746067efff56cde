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
    if g.threads:
        torch.set_num_threads(g.threads)
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
