"""A model in a process of its own, driven by method calls over a pipe.

The engine sections load each generator in a spawned worker: its peak memory (``ru_maxrss``) is
then its own, torch's OpenMP pool and llama.cpp's threads never share a process, and several
workers stay loaded at once, so runs can alternate between engines and drift hits them alike. An
idle worker waits on its pipe and uses no CPU.

Spawn workers before the section process allocates much: a child's ``ru_maxrss`` starts at the
resident size of the process it was forked from.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from bench.common import current_rss_mb, peak_rss_mb


class WorkerError(RuntimeError):
    """A call failed in the worker (the message carries its traceback) or the worker died."""


class Worker:
    """``Worker(factory, *args)`` builds ``factory(*args)`` in a new process; ``call`` runs its methods.

    Arguments and results travel by pickle. Besides the target's own methods a worker answers
    ``memory``: its resident size now and its peak so far, in MB.
    """

    def __init__(self, factory: Callable[..., Any], *args: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, factory, args), daemon=True)
        self._process.start()
        child.close()  # so that a dead worker reads as EOF here, not as a hang

    def call(self, method: str, **kwargs: Any) -> Any:
        self._conn.send((method, kwargs))
        try:
            status, value = self._conn.recv()
        except EOFError:
            self._process.join(timeout=5)
            raise WorkerError(f"the worker died (exit status {self._process.exitcode})") from None
        if status == "error":
            raise WorkerError(value)
        return value

    def close(self) -> None:
        with suppress(OSError):
            self._conn.send(None)
        self._process.join(timeout=60)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()
        self._conn.close()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve(conn: Any, factory: Callable[..., Any], args: tuple[Any, ...]) -> None:
    start_mb = current_rss_mb()
    target = factory(*args)
    try:
        while (request := conn.recv()) is not None:
            method, kwargs = request
            try:
                if method == "memory":
                    value = {
                        "rss_start_mb": start_mb,
                        "rss_mb": current_rss_mb(),
                        "peak_rss_mb": peak_rss_mb(),
                    }
                else:
                    value = getattr(target, method)(**kwargs)
            except Exception:
                conn.send(("error", traceback.format_exc()))
            else:
                conn.send(("ok", value))
    finally:
        close = getattr(target, "close", None)
        if close is not None:
            close()
