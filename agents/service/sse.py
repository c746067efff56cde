"""Server-Sent Events: an answer's job as ``queued``, ``start``, ``token``…, ``result``, ``done``.

The event names and payloads are listed in :data:`babelrag.agents.service.schemas.SSE_EVENTS`.
Written by hand (a few lines) because one route answers JSON or SSE depending on the request,
which FastAPI's ``EventSourceResponse`` (a route-level response class) does not do.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

from babelrag.agents.service.errors import error_body
from babelrag.agents.service.lifecycle import ClientGone, Ping, job_items
from babelrag.agents.service.queue import Job, Started

#: Headers that keep proxies from buffering a stream.
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def wants_stream(request: Request, stream_flag: bool) -> bool:
    """SSE when the body asks for it (``stream: true``) or the client accepts only event streams."""
    accept = request.headers.get("accept", "")
    return stream_flag or ("text/event-stream" in accept and "application/json" not in accept)


def encode(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def answer_events(
    job: Job, request: Request, timeout: float, serialize: Callable[[Any, float], dict[str, Any]]
) -> AsyncIterator[str]:
    """The SSE text of an answer job; ``serialize(result, queue_s)`` makes the ``result`` payload."""
    queue_s = 0.0
    yield encode("queued", {"position": job.position})
    try:
        async for item in job_items(job, request, timeout):
            if isinstance(item, Ping):
                yield ": ping\n\n"
            elif isinstance(item, Started):
                queue_s = item.queue_s
                yield encode("start", {"queue_s": round(queue_s, 3)})
            elif isinstance(item, str):
                yield encode("token", {"text": item})
            else:
                yield encode("result", serialize(item, queue_s))
    except ClientGone:
        return
    except Exception as exc:
        yield encode("error", error_body(exc))
    yield encode("done", {})


def event_stream(body: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream", headers=STREAM_HEADERS)
