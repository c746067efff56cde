"""The generation queue on its own: order, bound, cancellation, errors."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from babelrag.agents.service.errors import QueueFullError
from babelrag.agents.service.queue import END, GenerationQueue, Started

pytestmark = pytest.mark.unit


def _blocking(gate: threading.Event, log: list[str], name: str) -> Iterator[str]:
    log.append(f"{name} start")
    gate.wait(5)
    yield name
    log.append(f"{name} end")


async def _drain(job) -> list:
    items = []
    while (item := await job.next(5)) is not END:
        items.append(item)
    return items


def test_jobs_run_one_at_a_time_in_order_and_a_full_queue_refuses() -> None:
    async def main() -> None:
        queue, gate, log = GenerationQueue(2), threading.Event(), []
        queue.start()
        try:
            first = queue.submit(lambda: _blocking(gate, log, "a"))
            await asyncio.sleep(0.1)
            second = queue.submit(lambda: _blocking(gate, log, "b"))
            third = queue.submit(lambda: _blocking(gate, log, "c"))
            assert (first.position, second.position, third.position) == (0, 1, 2)
            with pytest.raises(QueueFullError) as exc:
                queue.submit(lambda: iter(["d"]))
            assert exc.value.headers == {"Retry-After": "2"}
            gate.set()
            results = [await _drain(j) for j in (first, second, third)]
            assert [r[1:] for r in results] == [["a"], ["b"], ["c"]]
            assert all(isinstance(r[0], Started) for r in results)
            assert log == ["a start", "a end", "b start", "b end", "c start", "c end"]
        finally:
            queue.close()

    asyncio.run(main())


def test_a_cancelled_queued_job_never_starts_and_a_running_one_stops() -> None:
    async def main() -> None:
        queue, gate, log, closed = GenerationQueue(4), threading.Event(), [], threading.Event()

        def endless() -> Iterator[str]:
            try:
                while True:
                    gate.wait(5)
                    yield "token"
            finally:
                closed.set()  # GeneratorExit reached the producer

        queue.start()
        try:
            running = queue.submit(endless)
            queued = queue.submit(lambda: _blocking(gate, log, "never"))
            queued.cancel()
            assert isinstance(await running.next(5), Started)
            gate.set()
            assert await running.next(5) == "token"
            running.cancel()
            assert await asyncio.wait_for(asyncio.to_thread(closed.wait, 5), 6)
            assert await _drain(queued) == [] and log == []
        finally:
            queue.close()

    asyncio.run(main())


def test_an_error_in_the_work_reaches_the_request() -> None:
    async def main() -> None:
        queue = GenerationQueue(1)
        queue.start()

        def broken() -> Iterator[str]:
            yield "partial"
            raise ValueError("boom")

        try:
            job = queue.submit(broken)
            assert isinstance(await job.next(5), Started)
            assert await job.next(5) == "partial"
            with pytest.raises(ValueError, match="boom"):
                await job.next(5)
            ok = queue.submit(lambda: iter(["fine"]))
            assert (await _drain(ok))[1:] == ["fine"], "the worker survives a failed job"
        finally:
            queue.close()

    asyncio.run(main())


def test_the_served_embedder_runs_one_call_at_a_time() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from babelrag.agents.service.backend import SerializedEmbedder
    from babelrag.stores.fakes import KeywordEmbeddings

    inner, active, most = KeywordEmbeddings(dimension=16), [0], [0]
    embed = inner.embed_query

    def slow(text: str) -> list[float]:
        active[0] += 1
        most[0] = max(most[0], active[0])
        threading.Event().wait(0.01)
        active[0] -= 1
        return embed(text)

    inner.embed_query = slow  # type: ignore[method-assign]
    wrapped = SerializedEmbedder(inner)
    with ThreadPoolExecutor(4) as pool:
        vectors = list(pool.map(wrapped.embed_query, ["tea", "bike", "git", "tea"] * 3))
    assert most[0] == 1 and vectors[0] == vectors[3]
    assert wrapped.model_id == inner.model_id and wrapped.max_tokens == inner.max_tokens
