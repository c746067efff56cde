"""JSON Lines records to documents, and metadata flattened to what Chroma stores.

One bad line in an export of thousands must not lose the file, so lines are parsed one by
one: usable ones become :class:`JsonlRecord`, the others a warning naming the line and why.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from babelrag.stores.text_decoding import collapse_whitespace

Scalar = str | int | float | bool

TEXT_FIELDS = ("text", "content", "body")
_LANG_FIELDS = ("lang", "language")
_MAX_KEYS = 200
_MAX_DEPTH = 8


@dataclass(frozen=True)
class JsonlRecord:
    line: int
    text: str
    title: str | None
    lang: str | None
    metadata: dict[str, Scalar]


def _scalar(value: object) -> Scalar | None:
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return None if value is None else str(value)


def flatten_metadata(fields: Mapping[Any, object]) -> dict[str, Scalar]:
    """Scalars only, as Chroma accepts nothing else: nested mappings as ``"a.b"``, lists as ``"x, y"``.

    ``None`` and containers inside lists are dropped; the key and depth limits keep a hostile
    YAML alias bomb bounded.
    """
    flat: dict[str, Scalar] = {}
    stack: list[tuple[str, object, int]] = [(str(key), value, 1) for key, value in reversed(fields.items())]
    while stack and len(flat) < _MAX_KEYS:
        key, value, depth = stack.pop()
        if isinstance(value, Mapping):
            if depth < _MAX_DEPTH:
                stack.extend((f"{key}.{sub}", item, depth + 1) for sub, item in reversed(value.items()))
        elif isinstance(value, list | tuple):
            items = (_scalar(item) for item in value if not isinstance(item, Mapping | list | tuple))
            joined = ", ".join(str(item) for item in items if item is not None)
            if joined:
                flat[key] = joined
        elif (scalar := _scalar(value)) is not None:
            flat[key] = scalar
    return flat


def _first_string(record: Mapping[str, object], names: tuple[str, ...]) -> tuple[str | None, str | None]:
    """``(field name, stripped value)`` of the first field holding a non-blank string."""
    for name in names:
        value = record.get(name)
        if isinstance(value, str) and value.strip():
            return name, value.strip()
    return None, None


def _record(number: int, obj: dict[str, object]) -> JsonlRecord | str:
    text_field, text = _first_string(obj, TEXT_FIELDS)
    if text_field is None or text is None:
        return f'line {number}: no text (expected a non-empty string in "text", "content" or "body")'
    title_field, title = _first_string(obj, ("title",))
    lang_field, lang = _first_string(obj, _LANG_FIELDS)
    used = {text_field, title_field, lang_field, "metadata"}
    metadata = flatten_metadata({key: value for key, value in obj.items() if key not in used})
    nested = obj.get("metadata")
    if isinstance(nested, Mapping):
        metadata.update(flatten_metadata(nested))
    elif nested is not None:
        metadata.update(flatten_metadata({"metadata": nested}))
    metadata["line"] = number
    return JsonlRecord(
        line=number,
        text=text,
        title=collapse_whitespace(title) if title else None,
        lang=lang,
        metadata=metadata,
    )


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return "null" if value is None else "a number"


def parse_jsonl(source: str) -> tuple[list[JsonlRecord], list[str]]:
    """Records of the usable lines and one warning per unusable line; blank lines are skipped silently."""
    records: list[JsonlRecord] = []
    warnings: list[str] = []
    # Not splitlines(): JSON strings may hold U+2028 and friends, which are no line ends here.
    for number, line in enumerate(source.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            warnings.append(f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        except RecursionError:
            warnings.append(f"line {number}: JSON nested too deeply")
            continue
        if not isinstance(obj, dict):
            warnings.append(f"line {number}: not a JSON object (got {_json_type(obj)})")
            continue
        result = _record(number, obj)
        if isinstance(result, str):
            warnings.append(result)
        else:
            records.append(result)
    return records, warnings
