"""One generator, many requests: a bounded queue in front of a single worker thread.

The local generator (a llama.cpp context or a transformers model) serves one request at a time and
is not thread-safe, so every request that needs it (answers, chat turns, drafts, translated
searches) becomes a :class:`Job` on this queue; one worker thread runs them in order. A full queue
refuses at once (:class:`QueueFullError`, 503 with Retry-After) instead of letting latency grow
without bound. A job is an iterator of items (answer pieces, then the result); the worker hands
each to the waiting request's event loop and checks between items whether the request was
cancelled (client gone, timeout): then it closes the iterator, which stops the generator at the
next token. Searches without translation never enter the queue: they run on the thread pool.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from babelrag.agents.service.errors import QueueFullError

Work = Callable[[], Iterator[Any]]


class Started:
    """The item a job yields first: it left the queue after ``queue_s`` seconds."""

    def __init__(self, queue_s: float) -> None:
        self.queue_s = queue_s


class _End:
    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class Job:
    """One request's work and the channel its items travel back on."""

    def __init__(self, work: Work, loop: asyncio.AbstractEventLoop, position: int) -> None:
        self.work = work
        self.position = position  # jobs ahead of this one when it was queued
        self.enqueued = time.perf_counter()
        self.cancelled = threading.Event()
        self._loop = loop
        self._items: asyncio.Queue[Any] = asyncio.Queue()
        self.items_produced = 0

    def cancel(self) -> None:
        """Stop at the next item (a queued job never starts)."""
        self.cancelled.set()

    def _emit(self, item: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(self._items.put_nowait, item)
        except RuntimeError:  # the request's loop is gone
            self.cancelled.set()

    async def next(self, timeout: float | None = None) -> Any:
        """The next item, or :data:`END`; raises what the work raised, or ``TimeoutError``."""
        item = await asyncio.wait_for(self._items.get(), timeout)
        if isinstance(item, _End):
            self._items.put_nowait(item)  # every later call sees the end too
            if item.error is not None:
                raise item.error
            return END
        return item


#: What :meth:`Job.next` returns once the work is done.
END = object()


class GenerationQueue:
    """``maxsize`` jobs may wait; one runs."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize)
        self._lock = threading.Lock()
        self._busy = False
        self._thread: threading.Thread | None = None

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    @property
    def busy(self) -> bool:
        return self._busy

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="babelrag-generator", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Cancel what waits, let the running job stop at its next item, end the worker."""
        if self._thread is None:
            return
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.cancel()
                job._emit(_End())
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None

    def submit(self, work: Work) -> Job:
        """Queue ``work`` for the generator, or raise :class:`QueueFullError` at once."""
        self.start()
        loop = asyncio.get_running_loop()
        with self._lock:
            job = Job(work, loop, position=self._queue.qsize() + int(self._busy))
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                raise QueueFullError(self.maxsize) from None
        return job

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            with self._lock:
                self._busy = True
            try:
                self._run_job(job)
            finally:
                with self._lock:
                    self._busy = False

    @staticmethod
    def _run_job(job: Job) -> None:
        if job.cancelled.is_set():
            job._emit(_End())
            return
        job._emit(Started(time.perf_counter() - job.enqueued))
        items = job.work()
        try:
            for item in items:
                if job.cancelled.is_set():
                    break
                job.items_produced += 1
                job._emit(item)
        except BaseException as exc:  # handed to the request, which turns it into a JSON error
            job._emit(_End(exc))
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # GeneratorExit through the chain: the model stops producing tokens
        job._emit(_End())
