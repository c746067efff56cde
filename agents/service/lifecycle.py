"""A request's life around its job: the timeout, the client going away, and cancelling the work.

Every request has a deadline (``service.request_timeout_s``, queue wait included): past it the job
is cancelled and the client gets a 504 (or an SSE ``error`` event). A client that closes its
connection cancels its job too: a task listens for the ASGI ``http.disconnect`` message, which
servers send as soon as the socket closes, rather than waiting for the next write to fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from starlette.requests import Request

from babelrag.agents.service.errors import RequestTimeoutError, ServiceError
from babelrag.agents.service.queue import END, Job, Started

T = TypeVar("T")

#: Seconds between keep-alive comments while a stream waits (in the queue, or on prefill).
PING_S = 10.0


class ClientGone(ServiceError):
    """The client closed the connection; nobody reads the answer."""

    status = 499
    type = "client_closed_request"

    def __init__(self) -> None:
        super().__init__("the client closed the connection")


class Ping:
    """Nothing new yet; a stream sends a keep-alive comment."""


async def _watch_disconnect(request: Request, job: Job) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            job.cancel()
            return


async def job_items(job: Job, request: Request, timeout: float) -> AsyncIterator[Any]:
    """The job's items (:class:`Started`, answer pieces, the result) with :class:`Ping` while idle.

    Raises :class:`RequestTimeoutError` past the deadline and :class:`ClientGone` when the client
    left; either way, and whenever the consumer stops early, the job is cancelled.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    watcher = asyncio.create_task(_watch_disconnect(request, job))
    try:
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise RequestTimeoutError(timeout)
            try:
                item = await job.next(min(remaining, PING_S))
            except TimeoutError:
                if job.cancelled.is_set():
                    raise ClientGone() from None
                yield Ping()
                continue
            if item is END:
                if job.cancelled.is_set():
                    raise ClientGone()
                return
            yield item
    finally:
        job.cancel()
        watcher.cancel()


async def job_result(job: Job, request: Request, timeout: float) -> tuple[Any, float]:
    """The job's last item and its queue wait, for a request that does not stream."""
    last, queue_s = None, 0.0
    async for item in job_items(job, request, timeout):
        if isinstance(item, Started):
            queue_s = item.queue_s
        elif not isinstance(item, Ping):
            last = item
    return last, queue_s


async def within(timeout: float, work: Callable[[], Awaitable[T]]) -> T:
    """``work()`` or :class:`RequestTimeoutError` after ``timeout`` seconds (for thread-pool work)."""
    try:
        async with asyncio.timeout(timeout):
            return await work()
    except TimeoutError:
        raise RequestTimeoutError(timeout) from None
