"""A tiny progress-reporting protocol, so long work can show a bar without knowing the UI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol


class ProgressTask(Protocol):
    def advance(self, amount: float = 1) -> None: ...


class Progress(Protocol):
    """Opens tasks; the CLI implements it with rich, tests and libraries with :class:`NullProgress`."""

    def task(self, description: str, total: float | None = None) -> AbstractContextManager[ProgressTask]: ...

    def log(self, message: str) -> None: ...


class _NullTask:
    def advance(self, amount: float = 1) -> None:
        return None


class NullProgress:
    """Reports nothing."""

    @contextmanager
    def task(self, description: str, total: float | None = None) -> Iterator[ProgressTask]:
        yield _NullTask()

    def log(self, message: str) -> None:
        return None
