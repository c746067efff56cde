"""Local generators as LangChain chat models: the engine-neutral base and the transformers engine.

:class:`LocalChatModel` is what every chain uses: decoding controls (:class:`Decoding`), token
counting for the context budget, streaming with stop strings, and per response the timings
(prefill = time to first token, decode = the rest) and token counts in ``response_metadata``.
An engine subclass only tokenizes and produces text pieces: :class:`TransformersChatModel` here
(a Hugging Face causal LM), ``LlamaCppChatModel`` in :mod:`babelrag.chains.llama_cpp` (GGUF files).
Models are built by the composition root and handed in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, ClassVar, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel, LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

from babelrag.stores.errors import GenerationError

Strategy = Literal["greedy", "beam", "sample"]
_ROLES = {"system": "system", "human": "user", "ai": "assistant", "user": "user", "assistant": "assistant"}


@dataclass(frozen=True)
class Decoding:
    """Decoding controls: greedy, beam search, or top-k/top-p sampling."""

    strategy: Strategy = "greedy"
    max_new_tokens: int = 320
    num_beams: int = 4
    temperature: float = 0.7
    top_k: int = 50
    top_p: float = 0.9
    seed: int | None = None
    repetition_penalty: float = 1.05
    stop: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        problems = []
        if self.max_new_tokens < 1:
            problems.append(f"max_new_tokens must be at least 1 (got {self.max_new_tokens})")
        if self.strategy == "beam" and self.num_beams < 2:
            problems.append(f"beam search needs num_beams >= 2 (got {self.num_beams})")
        if self.strategy == "sample" and not (self.temperature > 0):
            problems.append(f"sampling needs temperature > 0 (got {self.temperature})")
        if not 0 < self.top_p <= 1:
            problems.append(f"top_p must be in (0, 1] (got {self.top_p})")
        if self.top_k < 0 or self.repetition_penalty <= 0:
            problems.append("top_k must be >= 0 and repetition_penalty > 0")
        if problems:
            raise GenerationError("invalid decoding settings: " + "; ".join(problems))

    def with_overrides(self, **changes: Any) -> Decoding:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def generate_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "repetition_penalty": self.repetition_penalty,
        }
        if self.strategy == "sample":
            kwargs.update(do_sample=True, temperature=self.temperature, top_k=self.top_k, top_p=self.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_k=None, top_p=None)
            if self.strategy == "beam":
                kwargs.update(num_beams=self.num_beams, early_stopping=True)
        return kwargs


class LocalChatModel(BaseChatModel):
    """A local generator with babelrag's decoding controls; engines implement the ``_engine_*`` hooks."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_id: str = "local"
    decoding: Decoding = Decoding()
    context_tokens: int = 4096

    provider: ClassVar[str] = "local"  # for tracing (ls_provider)

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "babelrag-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "decoding": self.decoding}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        """What tracing records of a call: LangChain's default looks for a string ``model`` and
        would find the transformers model object here."""
        decoding = self._decoding(stop, dict(kwargs))
        named = kwargs.get("model")  # a per-call name, as traces of other chat models honour it
        params = LangSmithParams(
            ls_provider=self.provider,
            ls_model_name=named if isinstance(named, str) else self.model_id,
            ls_model_type="chat",
            ls_max_tokens=decoding.max_new_tokens,
        )
        if decoding.strategy == "sample":
            params["ls_temperature"] = decoding.temperature
        if decoding.stop:
            params["ls_stop"] = list(decoding.stop)
        return params

    # -- what chains use besides invoke/stream -----------------------------------------------
    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` alone (no template, no special tokens)."""
        raise NotImplementedError

    def prompt_tokens(self, messages: Sequence[BaseMessage]) -> int:
        """Tokens the chat template turns ``messages`` into (what the context budget limits)."""
        raise NotImplementedError

    def _iterate(self, messages: Sequence[BaseMessage], decoding: Decoding) -> Iterator[tuple[str, dict]]:
        """Yield (text piece, metadata); the last piece carries the full metadata (see :func:`_meta`)."""
        raise NotImplementedError

    def continuation_logprobs(self, messages: Sequence[BaseMessage], continuation: str) -> list[float]:
        """Log-probability of each token of ``continuation`` as the reply to ``messages``.

        What LM-supervised retrieval scores a passage with: how likely the generator finds a
        question (the reply) given a prompt that holds the passage (REPLUG, UPR).
        """
        raise NotImplementedError

    def _generate_blocking(self, messages: Sequence[BaseMessage], decoding: Decoding) -> tuple[str, dict]:
        """Beam search, which no engine streams."""
        raise GenerationError(
            f"beam search is not available with the {self._llm_type} engine",
            hint="use --strategy greedy or sample, or generation.engine = transformers",
        )

    # -- LangChain hooks ------------------------------------------------------------------
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        decoding = self._decoding(stop, kwargs)
        if decoding.strategy == "beam":
            text, meta = self._generate_blocking(messages, decoding)
        else:
            pieces: list[str] = []
            meta: dict[str, Any] = {}
            for piece, piece_meta in self._iterate(messages, decoding):
                pieces.append(piece)
                meta = piece_meta or meta
            text = "".join(pieces)
        message = AIMessage(content=text, response_metadata=meta, usage_metadata=_usage(meta))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        decoding = self._decoding(stop, kwargs)
        if decoding.strategy == "beam":  # transformers cannot stream beam search: one chunk at the end
            text, meta = self._generate_blocking(messages, decoding)
            yield ChatGenerationChunk(message=AIMessageChunk(content=text, response_metadata=meta))
            return
        meta = {}
        for piece, piece_meta in self._iterate(messages, decoding):
            meta = piece_meta or meta
            if piece:
                if run_manager:
                    run_manager.on_llm_new_token(piece)
                yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        yield ChatGenerationChunk(
            message=AIMessageChunk(content="", response_metadata=meta, usage_metadata=_usage(meta))
        )

    # -- generation -----------------------------------------------------------------------
    def _decoding(self, stop: list[str] | None, kwargs: dict[str, Any]) -> Decoding:
        decoding = kwargs.pop("decoding", None) or self.decoding
        if stop:
            decoding = replace(decoding, stop=tuple(decoding.stop) + tuple(stop))
        return decoding.with_overrides(
            **{k: v for k, v in kwargs.items() if k in Decoding.__dataclass_fields__}
        )


class TransformersChatModel(LocalChatModel):
    """Chat with a local ``AutoModelForCausalLM`` through its own chat template."""

    model: Any
    tokenizer: Any

    provider: ClassVar[str] = "huggingface"

    @property
    def _llm_type(self) -> str:
        return "transformers"

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def prompt_tokens(self, messages: Sequence[BaseMessage]) -> int:
        return int(self._encode(messages)["input_ids"].shape[-1])

    def _encode(self, messages: Sequence[BaseMessage]) -> dict[str, Any]:
        chat = [{"role": _ROLES.get(m.type, "user"), "content": _text(m)} for m in messages]
        try:
            encoded = self.tokenizer.apply_chat_template(
                chat, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
        except Exception as exc:  # template errors come in many types
            raise GenerationError(f"the chat template of {self.model_id} failed: {exc}") from exc
        n = int(encoded["input_ids"].shape[-1])
        if n > self.context_tokens:
            raise GenerationError(
                f"the prompt has {n} tokens, more than the context budget of {self.context_tokens}",
                hint="ask with fewer passages (-k) or raise generation.context_tokens",
            )
        return encoded

    def _prepare(self, messages: Sequence[BaseMessage], decoding: Decoding) -> dict[str, Any]:
        import torch

        if decoding.seed is not None:
            torch.manual_seed(decoding.seed)
        encoded = self._encode(messages)
        kwargs = {**encoded, **decoding.generate_kwargs(), "pad_token_id": self._pad_id()}
        if decoding.stop:
            kwargs.update(stop_strings=list(decoding.stop), tokenizer=self.tokenizer)
        return kwargs

    def _pad_id(self) -> int | None:
        pad = self.tokenizer.pad_token_id
        return pad if pad is not None else self.tokenizer.eos_token_id

    def continuation_logprobs(self, messages: Sequence[BaseMessage], continuation: str) -> list[float]:
        import torch

        prompt = self._encode(messages)["input_ids"]
        reply = self.tokenizer(continuation, add_special_tokens=False, return_tensors="pt")["input_ids"]
        if reply.shape[-1] == 0:
            return []
        ids = torch.cat([prompt, reply], dim=-1)
        with self._lock, torch.inference_mode():
            logits = self.model(input_ids=ids).logits[0, prompt.shape[-1] - 1 : -1].float()
        logprobs = torch.log_softmax(logits, dim=-1).gather(1, reply[0].unsqueeze(1)).squeeze(1)
        return [float(x) for x in logprobs]

    def _generate_blocking(self, messages: Sequence[BaseMessage], decoding: Decoding) -> tuple[str, dict]:
        import torch

        kwargs = self._prepare(messages, decoding)
        n_prompt = int(kwargs["input_ids"].shape[-1])
        started = time.perf_counter()
        with self._lock, torch.inference_mode():
            output = self.model.generate(**kwargs)
        new_tokens = output[0, n_prompt:]
        text = _trim_stop(self.tokenizer.decode(new_tokens, skip_special_tokens=True), decoding.stop)
        total = time.perf_counter() - started
        return text, _meta(self.model_id, decoding, n_prompt, len(new_tokens), None, total)

    def _iterate(self, messages: Sequence[BaseMessage], decoding: Decoding) -> Iterator[tuple[str, dict]]:
        """Yield (text piece, metadata so far) while ``generate`` runs in a worker thread."""
        import torch

        kwargs = self._prepare(messages, decoding)
        n_prompt = int(kwargs["input_ids"].shape[-1])
        streamer = _timed_streamer_class()(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600
        )
        errors: list[BaseException] = []

        def work() -> None:
            try:
                with torch.inference_mode():
                    self.model.generate(**kwargs, streamer=streamer)
            except BaseException as exc:  # surfaced in the caller's thread
                errors.append(exc)
                streamer.end()

        with self._lock:
            started = time.perf_counter()
            worker = threading.Thread(target=work, name="babelrag-generate", daemon=True)
            worker.start()
            guard = _StopGuard(decoding.stop)
            for piece in streamer:
                out = guard.feed(piece)
                if out:
                    yield out, {}
            worker.join()
            if errors:
                raise GenerationError(f"generation failed: {errors[0]}") from errors[0]
            total = time.perf_counter() - started
            prefill = (streamer.first_token_at - started) if streamer.first_token_at else None
            tail = guard.flush()
            yield tail, _meta(self.model_id, decoding, n_prompt, streamer.n_tokens, prefill, total)


@lru_cache(maxsize=1)
def _timed_streamer_class() -> type:
    """A ``TextIteratorStreamer`` that also notes when the first new token arrived.

    Defined on first use so importing this module does not import transformers.
    """
    from transformers import TextIteratorStreamer

    class TimedStreamer(TextIteratorStreamer):
        first_token_at: float | None = None
        n_tokens = 0
        _seen_prompt = False

        def put(self, value: Any) -> None:
            if not self._seen_prompt:  # the first call carries the prompt
                self._seen_prompt = True
            else:
                if self.first_token_at is None:
                    self.first_token_at = time.perf_counter()
                self.n_tokens += int(value.numel())
            super().put(value)

    return TimedStreamer


class _StopGuard:
    """Holds back text that could be the start of a stop string, and cuts at the first one."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = [s for s in stops if s]
        self.hold = max((len(s) for s in self.stops), default=1) - 1
        self.buffer = ""
        self.stopped = False

    def feed(self, piece: str) -> str:
        if self.stopped:
            return ""
        self.buffer += piece
        cut = _first_stop(self.buffer, self.stops)
        if cut is not None:
            self.stopped = True
            out, self.buffer = self.buffer[:cut], ""
            return out
        if self.hold == 0:
            out, self.buffer = self.buffer, ""
            return out
        out, self.buffer = self.buffer[: -self.hold], self.buffer[-self.hold :]
        return out

    def flush(self) -> str:
        out, self.buffer = ("" if self.stopped else self.buffer), ""
        return out


def _first_stop(text: str, stops: Sequence[str]) -> int | None:
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(found) if found else None


def _trim_stop(text: str, stops: Sequence[str]) -> str:
    cut = _first_stop(text, stops)
    return text if cut is None else text[:cut]


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(part if isinstance(part, str) else str(part.get("text", "")) for part in content)


def _meta(model_id: str, d: Decoding, n_prompt: int, n_new: int, prefill: float | None, total: float) -> dict:
    decode = (total - prefill) if prefill is not None else None
    return {
        "model": model_id,
        "model_name": model_id,  # the key LangChain's usage callbacks read
        "strategy": d.strategy,
        "prompt_tokens": n_prompt,
        "completion_tokens": n_new,
        "prefill_s": round(prefill, 4) if prefill is not None else None,
        "decode_s": round(decode, 4) if decode is not None else None,
        "generate_s": round(total, 4),
        "decode_tokens_per_s": round((n_new - 1) / decode, 2) if decode and n_new > 1 else None,
    }


def _usage(meta: dict) -> dict | None:
    if "prompt_tokens" not in meta:
        return None
    p, c = meta["prompt_tokens"], meta["completion_tokens"]
    return {"input_tokens": p, "output_tokens": c, "total_tokens": p + c}
