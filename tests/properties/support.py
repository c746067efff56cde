"""What every property test needs: counting inputs, and a time bound that turns a hang into a failure."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

from tests.properties.conftest import TRIED


def tried(kind: str) -> None:
    TRIED[kind] += 1


@contextmanager
def bounded(seconds: float = 20.0) -> Iterator[None]:
    """Fail instead of hanging: an input that takes longer than ``seconds`` is a bug."""

    def expire(signum, frame):
        raise TimeoutError(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
