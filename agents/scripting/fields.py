"""How a step field is declared, and one converter per kind of value.

Validation runs the converters on values written literally; the runner runs them again on values
that came from ``${...}`` references, so a bad value reads the same wherever it came from. Which
step takes which fields is declared in :mod:`~babelrag.agents.scripting.step_types`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from babelrag.stores.langdetect import normalize_language_code


@dataclass(frozen=True)
class FieldSpec:
    """One field of a step: its kind of value (a key of the converters below) and its checks."""

    kind: str
    required: bool = False
    must_exist: bool = False  # a path (or paths) that must exist when the script is validated
    bounded_like: tuple[str, str] | None = None  # a setting whose bounds the value must also meet


def convert(kind: str, value: Any) -> Any:
    """The value a step receives for a field of ``kind``; raises ValueError saying what is wrong."""
    return _CONVERTERS[kind](value)


def _got(value: Any) -> str:
    note = ""
    if isinstance(value, bool):
        note = "; YAML reads yes/no/on/off as booleans, so quote the value"
    return f" (got {value!r}{note})"


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string" + _got(value))
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _lang(value: Any) -> str:
    try:
        return normalize_language_code(_text(value))
    except ValueError as exc:
        if str(exc).startswith("Unknown language"):
            raise ValueError(
                f"unknown language {value!r}: use an ISO 639-1 code such as de, en or zh, "
                "or a name such as 'German'"
            ) from None
        raise


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer" + _got(value))
    if value < 1:
        raise ValueError(f"must be >= 1 (got {value})")
    return value


def _factor(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number" + _got(value))
    if value <= 0:
        raise ValueError(f"must be > 0 (got {value})")
    return float(value)


def _list_of(kind: str, value: Any, *, single_ok: bool) -> list[Any]:
    if single_ok and isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ValueError(f"must be a list of {_PLURALS[kind]}" + _got(value))
    if not value:
        raise ValueError("must not be an empty list")
    out = []
    for index, item in enumerate(value):
        try:
            out.append(convert(kind, item))
        except ValueError as exc:
            raise ValueError(f"item {index}: {exc}") from None
    return out


def _filters(value: Any) -> dict[str, str | int | float | bool]:
    if not isinstance(value, Mapping) or not value:
        raise ValueError("must be a mapping of metadata keys to values, e.g. {lang: de}" + _got(value))
    for key, item in value.items():
        if not isinstance(item, str | int | float | bool):
            raise ValueError(f"{key}: must be a string, number or boolean" + _got(item))
    return {str(key): item for key, item in value.items()}


_PLURALS = {"text": "strings", "count": "integers", "path": "paths"}
_CONVERTERS = {
    "text": _text,
    "path": _text,
    "lang": _lang,
    "count": _count,
    "factor": _factor,
    "texts": lambda v: _list_of("text", v, single_ok=True),
    "paths": lambda v: _list_of("path", v, single_ok=True),
    "sections": lambda v: _list_of("count", v, single_ok=False),
    "filters": _filters,
}
