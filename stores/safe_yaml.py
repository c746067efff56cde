"""YAML from users' files, bounded: nesting depth and alias expansion cannot crash or exhaust us.

PyYAML builds nodes recursively, so a front matter or script nested a thousand levels deep ends in
a ``RecursionError`` (a traceback, not a message), and a few lines of aliases can stand for
billions of values. Its parser, though, is a state machine: the events are read here first,
without recursion, and a document deeper than ``max_depth``, larger than ``max_nodes`` values with
its aliases expanded, or containing itself is refused with a :class:`YAMLLimitError`, a
``yaml.YAMLError`` like any other malformed YAML, before anything is built.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_DEPTH = 64
MAX_NODES = 100_000


class YAMLLimitError(yaml.YAMLError):
    """A document beyond the nesting or size limits, or one that contains itself."""

    def __init__(self, problem: str, line: int) -> None:
        super().__init__(f"{problem} (line {line})")
        self.problem = problem
        self.line = line


def check_yaml_limits(text: str, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> None:
    """Raise :class:`YAMLLimitError` when ``text`` nests deeper than ``max_depth``, stands for more
    than ``max_nodes`` values once its aliases are expanded, or holds an alias to a collection that
    contains it (a cycle); other malformed YAML raises its usual ``yaml.YAMLError``."""
    total = 0
    sizes: dict[str, int] = {}  # anchor -> values it stands for
    open_: list[tuple[str | None, int]] = []  # (anchor, total before) of the collections being read
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1 if event.start_mark else 1
        if isinstance(event, yaml.CollectionStartEvent):
            open_.append((event.anchor, total))
            total += 1
            if len(open_) > max_depth:
                raise YAMLLimitError(f"nested deeper than {max_depth} levels", line)
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, before = open_.pop()
            if anchor is not None:
                sizes[anchor] = total - before
        elif isinstance(event, yaml.ScalarEvent):
            total += 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            if any(anchor == event.anchor for anchor, _ in open_):
                raise YAMLLimitError(f"the alias *{event.anchor} refers to a collection it is in", line)
            total += sizes.get(event.anchor, 1)
        if total > max_nodes:
            raise YAMLLimitError(f"more than {max_nodes} values once aliases are expanded", line)


def safe_load(text: str, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> Any:
    """``yaml.safe_load`` within the limits."""
    check_yaml_limits(text, max_depth=max_depth, max_nodes=max_nodes)
    return yaml.safe_load(text)
