"""OpenAI-compatible chat: ``POST /v1/chat/completions`` and ``GET /v1/models``.

Existing clients (the OpenAI SDKs, chat front-ends) get cross-lingual answers with citations by
pointing their base URL here. The model name picks the knowledge base (``babelrag:<kb>`` or the
bare name). The last user message is the question; earlier user/assistant messages are the
history its follow-up is condensed with, as in ``babelrag chat``; system messages are ignored
(the answer prompt is babelrag's own). The content is the checked answer followed by its sources;
the full answer (sources with passage text, timings) rides along as the extra field ``babelrag``.

Streaming sends the raw answer as generated, then one chunk with the sources (and, when the check
against the passages changed the answer, the checked answer), then ``[DONE]``.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request

from babelrag.agents.service.backend import Service, answer_dict
from babelrag.agents.service.errors import NotFoundError, error_body
from babelrag.agents.service.lifecycle import ClientGone, Ping, job_items, job_result
from babelrag.agents.service.queue import Started, Work
from babelrag.agents.service.routes_rag import ERRORS, SSE_DOC, in_pool, service_of, timeout_of
from babelrag.agents.service.schemas import ChatCompletionRequest, ChatMessage, ModelList
from babelrag.agents.service.sse import event_stream
from babelrag.stores.errors import ConfigError

router = APIRouter(tags=["OpenAI-compatible"])

MODEL_PREFIX = "babelrag:"


def kb_for_model(service: Service, model: str) -> str:
    """``babelrag:<kb>``, ``<kb>`` or ``babelrag`` (the default knowledge base)."""
    name = model.strip()
    if name == "babelrag":
        return service.settings.kb
    name = name.removeprefix(MODEL_PREFIX)
    if name not in service.list_kbs():
        raise NotFoundError(
            f"the model {model!r} does not exist", hint="GET /v1/models lists one model per knowledge base"
        )
    return name


def text_of(message: ChatMessage) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(message.content, str):
        return message.content
    parts = message.content or []
    return "\n".join(str(p.get("text", "")) for p in parts if p.get("type") in ("text", "input_text"))


def conversation_work(service: Service, kb: str, body: ChatCompletionRequest) -> Work:
    """The dialogue over the request's messages (history, then the question), on a throwaway session."""
    from babelrag.stores.langdetect import detect_language
    from babelrag.stores.sessions import ChatSession, Turn

    messages = [m for m in body.messages if m.role in ("user", "assistant")]
    if not messages or messages[-1].role != "user" or not text_of(messages[-1]).strip():
        raise ConfigError(
            "the last message must be a user message with text", hint="messages[-1].role = user"
        )
    history = [Turn(m.role, text_of(m), detect_language(text_of(m))) for m in messages[:-1]]
    session = ChatSession(id="openai", kb=kb, turns=history)
    rt = service.runtime_for(kb)
    dialogue = rt.dialogue()
    decoding = _decoding(rt, body)
    if decoding is not None:
        dialogue.answer_chain = _with_decoding(dialogue.answer_chain, decoding)
    question = text_of(messages[-1])
    return lambda: dialogue.stream(session, question)


def _decoding(rt: Any, body: ChatCompletionRequest) -> Any:
    overrides: dict[str, Any] = {}
    if body.temperature is not None:
        overrides = (
            {"strategy": "greedy"}
            if body.temperature == 0
            else {"strategy": "sample", "temperature": body.temperature}
        )
    if body.top_p is not None:
        overrides["top_p"] = body.top_p
    if body.seed is not None:
        overrides["seed"] = body.seed
    if limit := body.max_completion_tokens or body.max_tokens:
        overrides["max_new_tokens"] = limit
    if body.stop:
        overrides["stop"] = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop)
    if not overrides:
        return None
    overrides.setdefault("max_new_tokens", rt.settings.generation.max_new_tokens)
    return rt.decoding(**overrides)


def _with_decoding(chain: Any, decoding: Any) -> Any:
    """The answer chain with ``decoding`` added to every request the dialogue sends it."""
    from langchain_core.runnables import RunnableLambda

    return RunnableLambda(lambda request: {**request, "decoding": decoding}, name="with_decoding") | chain


def content_of(result: dict[str, Any], heading: str) -> str:
    """The answer, then ``Sources:`` with one ``[n] title — source`` line per cited passage."""
    lines = [f"[{s['ref']}] {s['title']} — {s['source']}" for s in result["sources"]]
    return result["answer"] + (f"\n\n{heading}:\n" + "\n".join(lines) if lines else "")


def _sources_heading(service: Service, lang: str) -> str:
    from babelrag.chains.prompting import localized

    return localized(service.runtime.messages(), "sources", lang, "Sources")


def _usage(result: dict[str, Any]) -> dict[str, int]:
    gen = result.get("generation") or {}
    prompt, completion = int(gen.get("prompt_tokens") or 0), int(gen.get("completion_tokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


@router.get("/v1/models", response_model=ModelList, responses=ERRORS)
async def list_models(request: Request) -> dict[str, Any]:
    """One model per knowledge base: ``babelrag:<kb>``."""
    kbs = await in_pool(request, service_of(request).list_kbs)
    now = int(time.time())
    return {
        "object": "list",
        "data": [
            {"id": MODEL_PREFIX + kb, "object": "model", "created": now, "owned_by": "babelrag"} for kb in kbs
        ],
    }


@router.post("/v1/chat/completions", responses={**ERRORS, 200: SSE_DOC})
async def chat_completions(body: ChatCompletionRequest, request: Request) -> Any:
    """An answer from the knowledge base the model names, in the OpenAI chat format (streamed or not)."""
    service = service_of(request)
    kb = kb_for_model(service, body.model)
    work = await in_pool(request, conversation_work, service, kb, body)
    job = service.queue.submit(work)
    completion_id = "chatcmpl-" + secrets.token_hex(12)
    created = int(time.time())
    if body.stream:
        return event_stream(_chunks(service, job, request, body.model, kb, completion_id, created))
    result, queue_s = await job_result(job, request, timeout_of(request))
    data = answer_dict(result, kb, queue_s)
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": body.model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": content_of(data, _sources_heading(service, data["lang"])),
                },
                "finish_reason": "stop",
            }
        ],
        "usage": _usage(data),
        "babelrag": data,
    }


async def _chunks(
    service: Service, job: Any, request: Request, model: str, kb: str, completion_id: str, created: int
) -> AsyncIterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        payload = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    streamed: list[str] = []
    queue_s = 0.0
    try:
        async for item in job_items(job, request, timeout_of(request)):
            if isinstance(item, Ping):
                yield ": ping\n\n"
            elif isinstance(item, Started):
                queue_s = item.queue_s
            elif isinstance(item, str):
                streamed.append(item)
                yield chunk({"content": item})
            else:
                data = answer_dict(item, kb, queue_s)
                yield chunk({"content": _tail("".join(streamed), data, service)})
                yield chunk({}, "stop", usage=_usage(data), babelrag=data)
    except ClientGone:
        return
    except Exception as exc:
        yield f"data: {json.dumps(error_body(exc), ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"


def _tail(streamed: str, data: dict[str, Any], service: Service) -> str:
    """What follows the streamed text: the checked answer where the check changed it, the sources."""
    heading = _sources_heading(service, data["lang"])
    tail = content_of({**data, "answer": ""}, heading)
    if data["answer"].strip() != streamed.strip():
        return f"\n\n---\n{data['answer']}{tail}"
    return tail
