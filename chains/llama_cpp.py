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
