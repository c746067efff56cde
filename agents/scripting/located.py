"""YAML loading that remembers where each value was written, and settings checked against the
real settings model, so every problem in a script can be reported with its line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

import yaml

from babelrag.agents.scripting.errors import FORMAT_HINT, Issue, ScriptError, format_field
from babelrag.stores.safe_yaml import YAMLLimitError, check_yaml_limits

FieldPath = tuple[str | int, ...]


def load_yaml_with_lines(text: str, name: str) -> tuple[Any, dict[FieldPath, int], list[Issue]]:
    """The document, the line of every key and list item (by field path), and duplicate keys.

    A mapping entry's line is its key's line, so ``ask:`` is reported where it is written even when
    its fields start on the next line.
    """
    try:
        check_yaml_limits(text)  # nothing is built from a document too deep or too large to walk
    except YAMLLimitError as exc:
        raise ScriptError(f"{name} line {exc.line}: {exc.problem}", hint=FORMAT_HINT) from None
    except yaml.YAMLError:
        pass  # reported with its line below
    try:
        loader = yaml.SafeLoader(text)  # it reads ahead: a control character fails already here
    except yaml.YAMLError as exc:
        raise ScriptError(f"{name}: not valid YAML: {exc}", hint=FORMAT_HINT) from None
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ScriptError(f"{name} line {line}: not valid YAML: {exc.problem}", hint=FORMAT_HINT) from None
    except yaml.YAMLError as exc:
        raise ScriptError(f"{name}: not valid YAML: {exc}", hint=FORMAT_HINT) from None
    finally:
        loader.dispose()
    lines: dict[FieldPath, int] = {(): 1}
    duplicates: list[Issue] = []
    if node is not None:
        _index(node, (), lines, duplicates)
    return data, lines, duplicates


def _index(node: yaml.Node, where: FieldPath, lines: dict[FieldPath, int], issues: list[Issue]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            path = (*where, key)
            line = key_node.start_mark.line + 1
            if key in seen:
                issues.append(Issue(line, format_field(path), f"duplicate key {key!r}"))
            seen.add(key)
            lines[path] = line
            _index(value_node, path, lines, issues)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*where, index)] = item.start_mark.line + 1
            _index(item, (*where, index), lines, issues)


def line_of(lines: Mapping[FieldPath, int], path: FieldPath) -> int:
    """The line of ``path``, or of its nearest written parent (a missing field is its parent's)."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1


def suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


# -- settings -----------------------------------------------------------------------------------
@cache
def _validation_model() -> type:
    """The real settings model fed only the script's values: no environment, no config file.

    Those join at run time, when the backend builds its settings; here a problem must be one the
    script wrote, so it can be reported at its line.
    """
    from babelrag.agents.config import Settings

    class ScriptSettings(Settings):
        @classmethod
        def settings_customise_sources(
            cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
        ):
            return (init_settings,)

    return ScriptSettings


def settings_problems(overrides: Mapping[str, Any]) -> list[tuple[FieldPath, str]]:
    """(location inside ``overrides``, message) for each value the settings model rejects."""
    from pydantic import ValidationError

    try:
        _validation_model()(**overrides)
    except ValidationError as exc:
        return [(tuple(err["loc"]), _message(err)) for err in exc.errors()]
    return []


_BOUNDS = {"greater_than_equal": (">=", "ge"), "greater_than": (">", "gt")}
_BOUNDS |= {"less_than_equal": ("<=", "le"), "less_than": ("<", "lt")}


def _message(err: Mapping[str, Any]) -> str:
    kind, ctx, loc = err["type"], err.get("ctx") or {}, tuple(err["loc"])
    got = f" (got {err.get('input')!r})"
    if kind == "extra_forbidden":
        return "unknown setting" + suggest(str(loc[-1]), _known_keys(loc[:-1]))
    if kind in _BOUNDS:
        op, key = _BOUNDS[kind]
        bound = ctx.get(key)
        bound = int(bound) if isinstance(bound, float) and bound.is_integer() else bound
        return f"must be {op} {bound}" + got
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}" + got
    if kind == "value_error":
        given = err.get("input")
        return str(ctx.get("error", err["msg"])) + ("" if isinstance(given, dict) else got)
    for prefix, text in (("int_", "an integer"), ("float_", "a number"), ("bool_", "true or false")):
        if kind.startswith(prefix):
            return f"must be {text}" + got
    if kind.startswith("string_"):
        return "must be a string" + got
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a mapping of settings" + got
    return str(err["msg"])


def _known_keys(loc: FieldPath) -> list[str]:
    from pydantic import BaseModel

    model: Any = _validation_model()
    for part in loc:
        field = model.model_fields.get(part)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)
