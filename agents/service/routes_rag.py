"""``/v1/search``, ``/v1/ask``, ``/v1/write``: one-shot requests.

A plain search runs on the thread pool, beside whatever the generator is doing; a search that
translates its query, an answer and a draft need the generator and wait for it in the queue.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from babelrag.agents.service.backend import Service, answer_dict
from babelrag.agents.service.lifecycle import job_result, within
from babelrag.agents.service.schemas import (
    AnswerResponse,
    AskRequest,
    ErrorResponse,
    RenderRequest,
    RenderResponse,
    SearchRequest,
    SearchResponse,
    WriteRequest,
    WriteResponse,
)
from babelrag.agents.service.sse import answer_events, event_stream, wants_stream

router = APIRouter(tags=["search, ask, write"])
T = TypeVar("T")

#: What every route may answer besides its success.
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 404, 422, 500, 503, 504)
}
SSE_DOC = {"content": {"text/event-stream": {"schema": {"type": "string"}}}}


def service_of(request: Request) -> Service:
    return request.app.state.service


def timeout_of(request: Request) -> float:
    return service_of(request).settings.service.request_timeout_s


async def in_pool(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on the thread pool within the request's deadline (504 after it; the thread
    finishes its work, which nothing else waits for)."""
    return await within(timeout_of(request), lambda: run_in_threadpool(fn, *args))


@router.post("/v1/search", response_model=SearchResponse, responses=ERRORS)
async def search(body: SearchRequest, request: Request) -> dict[str, Any]:
    """Cross-lingual search; ``hits`` is exactly what ``babelrag search --json`` prints."""
    service = service_of(request)
    if not body.translate:
        return await in_pool(request, service.search, body)
    job = service.queue.submit(lambda: iter([service.search(body)]))
    result, queue_s = await job_result(job, request, timeout_of(request))
    result["timings"]["queue_s"] = round(queue_s, 3)
    return result


@router.post(
    "/v1/ask", response_model=AnswerResponse, responses={**ERRORS, 200: SSE_DOC | {"model": AnswerResponse}}
)
async def ask(body: AskRequest, request: Request) -> Any:
    """An answer with citations; Server-Sent Events with ``stream: true`` or ``Accept: text/event-stream``."""
    service = service_of(request)
    kb, work = await in_pool(request, service.ask_work, body)
    job = service.queue.submit(work)
    if wants_stream(request, body.stream):
        return event_stream(
            answer_events(job, request, timeout_of(request), lambda r, q: answer_dict(r, kb, q))
        )
    result, queue_s = await job_result(job, request, timeout_of(request))
    return answer_dict(result, kb, queue_s)


@router.post("/v1/write", response_model=WriteResponse, responses=ERRORS)
async def write(body: WriteRequest, request: Request) -> dict[str, Any]:
    """Expand a draft with cited additions (``babelrag write --json``)."""
    service = service_of(request)
    service.runtime_for(body.kb)  # a missing knowledge base is a 404 before queueing
    job = service.queue.submit(lambda: iter([service.write(body)]))
    result, _ = await job_result(job, request, timeout_of(request))
    return result


@router.post("/v1/write/render", response_model=RenderResponse, responses=ERRORS)
async def render(body: RenderRequest, request: Request) -> dict[str, Any]:
    """The document with the additions the author kept, and its Sources list (Markdown)."""
    return service_of(request).render(body)
