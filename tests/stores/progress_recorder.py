"""A progress that remembers each task's total and how far it advanced."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class RecordedTask:
    total: float | None
    done: float = 0

    def advance(self, amount: float = 1) -> None:
        self.done += amount


@dataclass
class RecordingProgress:
    tasks: dict[str, RecordedTask] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    @contextmanager
    def task(self, description: str, total: float | None = None) -> Iterator[RecordedTask]:
        self.tasks[description] = task = RecordedTask(total)
        yield task

    def log(self, message: str) -> None:
        self.messages.append(message)
