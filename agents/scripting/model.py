"""The data model of a validated script: what the runner executes."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VERSION = 1


@dataclass(frozen=True)
class ForEach:
    """Batch input: one step run per item; ``labels`` say where each item was written."""

    source: str
    items: tuple[dict[str, Any], ...]
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Step:
    index: int
    type: str
    params: Mapping[str, Any]  # as written: ``${...}`` are resolved by the runner
    line: int
    id: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)  # this step's own overrides
    foreach: ForEach | None = None
    field_lines: Mapping[str, int] = field(default_factory=dict)

    @property
    def key(self) -> str | int:
        """How records and reports name the step: its id, else its index."""
        return self.id if self.id is not None else self.index

    @property
    def label(self) -> str:
        return f"steps[{self.index}] ({self.type}" + (f" '{self.id}')" if self.id else ")")


@dataclass(frozen=True)
class Script:
    path: Path
    name: str  # the path as the user gave it, for messages
    steps: tuple[Step, ...]
    version: int = VERSION
    title: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)  # run-level overrides, ``kb`` included
    vars: Mapping[str, Any] = field(default_factory=dict)
    jsonl: Path | None = None
    markdown: Path | None = None
    on_error: str = "stop"

    @property
    def folder(self) -> Path:
        return self.path.parent

    def settings_for(self, step: Step) -> dict[str, Any]:
        """Run-level overrides deep-merged with the step's own."""
        return copy.deepcopy(deep_merge(self.settings, step.settings))

    def where(self, line: int) -> str:
        return f"{self.name} line {line}"


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: ``over`` wins, nested mappings merge; neither input changes."""
    out: dict[str, Any] = {k: dict(v) if isinstance(v, Mapping) else v for k, v in base.items()}
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = dict(value) if isinstance(value, Mapping) else value
    return out
