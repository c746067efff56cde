"""``${...}`` references in script values: parsing, static discovery and resolution.

A reference is a dotted path: ``${vars.topic}``, ``${q.answer}``, ``${q.sources.0.title}``,
``${item.question}``. A string that is exactly one reference takes the referenced value with its
type (a list stays a list, a number a number); references inside longer text are written as text.
``$${`` is a literal ``${``. Parsing is shared by validation (before anything runs) and the runner.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_INDEX = re.compile(r"\d+\Z")

FieldPath = tuple[str | int, ...]


class TemplateSyntaxError(ValueError):
    """A string with a malformed ``${...}``."""


class ResolveError(ValueError):
    """A reference that names nothing at run time."""


@dataclass(frozen=True)
class Ref:
    """One ``${root.path...}``."""

    root: str
    path: tuple[str | int, ...]

    def __str__(self) -> str:
        return "${" + ".".join([self.root, *map(str, self.path)]) + "}"


def split_template(text: str) -> list[str | Ref]:
    """Literal pieces and references, in order; raises :class:`TemplateSyntaxError`."""
    parts: list[str | Ref] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$${", i):
            literal.append("${")
            i += 3
        elif text.startswith("${", i):
            end = text.find("}", i + 2)
            if end < 0:
                raise TemplateSyntaxError(f"unbalanced '${{' in {text!r}: missing '}}'")
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(parse_ref(text[i + 2 : end]))
            i = end + 1
        else:
            literal.append(text[i])
            i += 1
    if literal:
        parts.append("".join(literal))
    return parts


def parse_ref(expr: str) -> Ref:
    segments = expr.strip().split(".")
    valid = bool(IDENT.match(segments[0])) and all(IDENT.match(s) or _INDEX.match(s) for s in segments[1:])
    if not valid:
        raise TemplateSyntaxError(
            f"'${{{expr}}}' is not a reference: use ${{vars.NAME}}, ${{STEP_ID.FIELD}} or ${{item.FIELD}}"
        )
    path = tuple(int(s) if _INDEX.match(s) else s for s in segments[1:])
    return Ref(segments[0], path)


def find_refs(value: Any, where: FieldPath = ()) -> Iterator[tuple[FieldPath, Ref | TemplateSyntaxError]]:
    """Every reference (or syntax error) in a nested value, with the field path it sits at."""
    if isinstance(value, str):
        if "${" not in value:
            return
        try:
            parts = split_template(value)
        except TemplateSyntaxError as exc:
            yield where, exc
            return
        for part in parts:
            if isinstance(part, Ref):
                yield where, part
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from find_refs(item, (*where, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from find_refs(item, (*where, index))


def has_refs(value: Any) -> bool:
    return any(True for _ in find_refs(value))


def resolve(value: Any, scope: Mapping[str, Any]) -> Any:
    """``value`` with every reference replaced from ``scope`` (a new object; ``value`` is untouched)."""
    if isinstance(value, str):
        if "${" not in value:
            return value
        parts = split_template(value)
        if len(parts) == 1 and isinstance(parts[0], Ref):
            return lookup(parts[0], scope)
        return "".join(p if isinstance(p, str) else as_text(lookup(p, scope)) for p in parts)
    if isinstance(value, Mapping):
        return {key: resolve(item, scope) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [resolve(item, scope) for item in value]
    return value


def lookup(ref: Ref, scope: Mapping[str, Any]) -> Any:
    if ref.root not in scope:
        raise ResolveError(f"{ref}: nothing named {ref.root!r} is defined")
    current = scope[ref.root]
    walked = ref.root
    for segment in ref.path:
        if current is None:
            raise ResolveError(f"{ref}: {walked} has no value (did its step fail?)")
        if isinstance(current, Mapping):
            key = segment if segment in current else str(segment)
            if key not in current:
                known = ", ".join(map(str, current)) or "no fields"
                raise ResolveError(f"{ref}: {walked} has no field {str(segment)!r} (it has {known})")
            current = current[key]
        elif isinstance(current, list | tuple):
            if not isinstance(segment, int):
                raise ResolveError(f"{ref}: {walked} is a list; index it with a number, e.g. {walked}.0")
            if segment >= len(current):
                raise ResolveError(f"{ref}: {walked} has {len(current)} item(s), no index {segment}")
            current = current[segment]
        else:
            raise ResolveError(f"{ref}: {walked} is {type(current).__name__} {current!r}, it has no fields")
        walked = f"{walked}.{segment}"
    return current


def as_text(value: Any) -> str:
    """How a referenced value reads inside a longer string."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, default=str)
