"""The llama.cpp engine: a GGUF generator as a :class:`LocalChatModel`, through llama-cpp-python.

llama.cpp runs the quantised GGUF weights directly, several times faster on a CPU than the same
model dequantised in transformers. The chat template comes from the GGUF's own metadata; text is
produced token by token from ``Llama.generate``, so streaming, stop strings, timings and token
counts work as with the transformers engine. ``Llama.generate`` keeps the KV cache of the longest
prefix shared with the previous prompt: a context used for one kind of prompt (the translation
prompt's instructions and examples, the answer prompt's system message) computes that prefix once.
The composition root therefore gives each kind of prompt its own context on the same weights
(llama.cpp maps the file once, so a second context costs only its KV cache).

Decoding: greedy and top-k / top-p / temperature sampling with a seed, repetition penalty, stop
strings. Beam search is not offered by this engine and says so.
"""

from __future__ import annotations

import codecs
import time
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from langchain_core.messages import BaseMessage
from pydantic import PrivateAttr

from babelrag.chains.generator import _ROLES, Decoding, LocalChatModel, _meta, _StopGuard, _text
from babelrag.stores.errors import GenerationError


class LlamaCppChatModel(LocalChatModel):
    """Chat with a GGUF model loaded as a ``llama_cpp.Llama`` (built by the composition root)."""

    llama: Any

    provider: ClassVar[str] = "llama.cpp"

    _formatter: Any = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "llama.cpp"

    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)) if text else 0

    def prompt_tokens(self, messages: Sequence[BaseMessage]) -> int:
        return len(self._prompt_ids(messages))

    @property
    def cached_tokens(self) -> int:
        """Tokens of the last prompt (and answer) still in this context's KV cache."""
        return int(self.llama.n_tokens)

    # -- prompt ---------------------------------------------------------------------------------
    def _prompt_ids(self, messages: Sequence[BaseMessage]) -> list[int]:
        chat = [{"role": _ROLES.get(m.type, "user"), "content": _text(m)} for m in messages]
        try:
            prompt = self._chat_formatter()(messages=chat).prompt
        except Exception as exc:  # template errors come in many types
            raise GenerationError(f"the chat template of {self.model_id} failed: {exc}") from exc
        add_bos = str(self.llama.metadata.get("tokenizer.ggml.add_bos_token", "false")).lower() == "true"
        ids = self.llama.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)
        if len(ids) > self.context_tokens:
            raise GenerationError(
                f"the prompt has {len(ids)} tokens, more than the context budget of {self.context_tokens}",
                hint="ask with fewer passages (-k) or raise generation.context_tokens",
            )
        return ids

    def _chat_formatter(self) -> Any:
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            template = self.llama.metadata.get("tokenizer.chat_template")
            if not template:
                raise GenerationError(
                    f"the GGUF model {self.model_id} has no chat template",
                    hint="use an instruction-tuned (chat) model",
                )
            self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=self._special_text("tokenizer.ggml.eos_token_id"),
                bos_token=self._special_text("tokenizer.ggml.bos_token_id"),
            )
        return self._formatter

    def _special_text(self, key: str) -> str:
        token = self.llama.metadata.get(key)
        if token is None:
            return ""
        return self.llama.detokenize([int(token)], special=True).decode("utf-8", errors="ignore")

    # -- scoring --------------------------------------------------------------------------------
    def continuation_logprobs(self, messages: Sequence[BaseMessage], continuation: str) -> list[float]:
        prompt = self._prompt_ids(messages)
        reply = self.llama.tokenize(continuation.encode("utf-8"), add_bos=False, special=False)
        if not reply:
            return []
        ids = [*prompt, *reply]
        if len(ids) > self.context_tokens:
            raise GenerationError(
                f"prompt and reply have {len(ids)} tokens, more than the context of {self.context_tokens}",
                hint="raise generation.context_tokens",
            )
        with self._lock:
            return _token_logprobs(self.llama, ids, start=len(prompt))

    # -- generation -----------------------------------------------------------------------------
    def _iterate(self, messages: Sequence[BaseMessage], decoding: Decoding) -> Iterator[tuple[str, dict]]:
        if decoding.strategy == "beam":
            yield self._generate_blocking(messages, decoding)  # raises: no beam search here
            return
        ids = self._prompt_ids(messages)
        budget = min(decoding.max_new_tokens, self.context_tokens - len(ids))
        with self._lock:
            reused = _common_prefix(self.llama, ids)
            if decoding.seed is not None:
                self.llama.set_seed(decoding.seed)
            started = time.perf_counter()
            first_at: float | None = None
            n_new = 0
            guard = _StopGuard(decoding.stop)
            text = codecs.getincrementaldecoder("utf-8")(errors="replace")
            tokens = self.llama.generate(ids, **_sampling(decoding))
            try:
                for token in tokens:
                    if _is_end(self.llama, token) or n_new >= budget:
                        break
                    if first_at is None:
                        first_at = time.perf_counter()
                    n_new += 1
                    piece = guard.feed(text.decode(self.llama.detokenize([token])))
                    if piece:
                        yield piece, {}
                    if guard.stopped:
                        break
            finally:
                tokens.close()
            tail = guard.feed(text.decode(b"", final=True)) + guard.flush()
            total = time.perf_counter() - started
        prefill = (first_at - started) if first_at is not None else None
        meta = _meta(self.model_id, decoding, len(ids), n_new, prefill, total)
        meta["cached_prompt_tokens"] = reused
        yield tail, meta


def _sampling(decoding: Decoding) -> dict[str, Any]:
    """``Llama.generate`` arguments; temperature 0 is llama.cpp's greedy sampler."""
    common = {"repeat_penalty": decoding.repetition_penalty, "min_p": 0.0}
    if decoding.strategy == "sample":
        return {**common, "temp": decoding.temperature, "top_k": decoding.top_k, "top_p": decoding.top_p}
    return {**common, "temp": 0.0, "top_k": 1, "top_p": 1.0}


def _is_end(llama: Any, token: int) -> bool:
    """End of generation: the model's end-of-turn or end-of-text token."""
    from llama_cpp import llama_cpp as native

    return bool(native.llama_vocab_is_eog(llama._model.vocab, token))


def _common_prefix(llama: Any, ids: Sequence[int]) -> int:
    """Prompt tokens whose KV state this context already holds (``generate`` reuses them)."""
    held = llama.input_ids[: llama.n_tokens]
    n = 0
    for a, b in zip(held, ids, strict=False):
        if a != b:
            break
        n += 1
    return n


def _token_logprobs(llama: Any, ids: Sequence[int], *, start: int) -> list[float]:
    """Log-probabilities of ``ids[start:]``, each given the tokens before it.

    ``Llama.eval`` keeps logits only for the last token unless the context was built with
    ``logits_all`` (a buffer of context × vocabulary floats: 600 MB for Qwen at 1,024 tokens), so
    this drives the pinned llama-cpp-python's batch directly and asks for logits only at the
    positions that predict the reply. The KV cache of the longest prefix shared with the previous
    call is kept (a prompt that differs only after the passage costs only its tail), and the
    bookkeeping ``Llama.generate`` relies on (``input_ids``, ``n_tokens``) stays exact.
    """
    import numpy as np

    keep = min(_common_prefix(llama, ids), start - 1)  # the logits at start - 1 are needed afresh
    llama._ctx.kv_cache_seq_rm(-1, keep, -1)
    llama.n_tokens = keep
    n_vocab = llama.n_vocab()
    batch = llama._batch
    out: list[float] = []
    position = keep
    while position < len(ids):
        chunk = list(ids[position : position + llama.n_batch])
        batch.set_batch(batch=chunk, n_past=position, logits_all=False)
        wanted = [j for j in range(len(chunk)) if start - 1 <= position + j < len(ids) - 1]
        for j in range(len(chunk)):
            batch.batch.logits[j] = j in wanted or j == len(chunk) - 1
        llama._ctx.decode(batch)
        for j in wanted:
            row = np.ctypeslib.as_array(llama._ctx.get_logits_ith(j), shape=(n_vocab,)).astype(np.float64)
            top = row.max()
            out.append(float(row[ids[position + j + 1]] - top - np.log(np.exp(row - top).sum())))
        llama.input_ids[position : position + len(chunk)] = chunk
        position += len(chunk)
        llama.n_tokens = position
    return out
