"""Validation of one step: its type, id, fields, per-step settings, batch input and references.

What each step type takes and returns is read from its declaration in ``step_types.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from babelrag.agents.scripting.fields import convert
from babelrag.agents.scripting.located import FieldPath, line_of, settings_problems, suggest
from babelrag.agents.scripting.model import ForEach, Step, deep_merge
from babelrag.agents.scripting.step_types import STEP_TYPES
from babelrag.agents.scripting.templates import (
    IDENT,
    Ref,
    ResolveError,
    TemplateSyntaxError,
    find_refs,
    has_refs,
    lookup,
)

if TYPE_CHECKING:
    from babelrag.agents.scripting.schema import Checker

STEP_KEYS = ("id", "settings", "foreach")  # allowed beside the step type in every step
RESERVED_IDS = ("vars", "item")


def check_step(
    c: Checker,
    index: int,
    raw: Any,
    run_settings: Mapping[str, Any],
    values: Mapping[str, Any],
    defined: dict[str, Step | None],
) -> Step | None:
    """The validated step, or None when it is too broken to run (its problems are in ``c``).

    A broken step with an id is still registered in ``defined`` (as None), so that later references
    to it do not add a second, misleading error.
    """
    path: FieldPath = ("steps", index)
    if not isinstance(raw, dict):
        c.add(path, f"a step is a mapping such as {{ask: {{question: ...}}}} (got {raw!r})")
        return None
    kind = _step_type(c, raw, path)
    step_id = _step_id(c, raw, path, defined)
    settings = _step_settings(c, raw.get("settings"), path, run_settings)
    foreach = c.foreach(raw["foreach"], (*path, "foreach")) if "foreach" in raw else None
    params = c.mapping(raw[kind], (*path, kind), "fields") if kind else None
    step = None
    if kind and params is not None:
        _check_fields(c, kind, params, (*path, kind))
        for where, ref in find_refs(params, (*path, kind)):
            if isinstance(ref, TemplateSyntaxError):
                problem: str | None = str(ref)
            else:
                problem = _ref_problem(ref, values, defined, foreach, "foreach" in raw)
            if problem:
                c.add(where, problem)
        step = Step(
            index=index,
            type=kind,
            params=params,
            line=line_of(c.lines, path),
            id=step_id,
            settings=settings,
            foreach=foreach,
            field_lines={key: line_of(c.lines, (*path, kind, key)) for key in params},
        )
    if step_id is not None and step_id not in defined:
        defined[step_id] = step
    return step


def _step_type(c: Checker, raw: dict[str, Any], path: FieldPath) -> str | None:
    types = [key for key in raw if key in STEP_TYPES]
    others = [key for key in raw if key not in STEP_TYPES and key not in STEP_KEYS]
    if len(types) > 1:
        c.add(path, f"a step does one thing, found {' and '.join(types)}: split it into {len(types)} steps")
        return None
    if not types:
        expected = ", ".join(STEP_TYPES)
        for key in others:
            message = f"unknown step type {key!r} (expected one of {expected})"
            c.add(path, message + suggest(key, STEP_TYPES), at=(*path, key))
        if not others:
            c.add(path, f"no step type (expected one of {expected})")
        return None
    for key in others:
        allowed = (*STEP_KEYS, types[0])
        c.add((*path, key), f"unknown field {key!r} (a step has {', '.join(allowed)}){suggest(key, allowed)}")
    return types[0]


def _step_id(c: Checker, raw: dict[str, Any], path: FieldPath, defined: Mapping[str, Any]) -> str | None:
    if "id" not in raw:
        return None
    value, where = raw["id"], (*path, "id")
    if not isinstance(value, str) or not IDENT.match(value):
        c.add(where, f"an id is letters, digits and '_', not starting with a digit (got {value!r})")
    elif value in RESERVED_IDS:
        c.add(where, f"{value!r} is reserved for ${{{value}.…}}; choose another id")
    elif value in defined:
        first = defined[value]
        at = f" by steps[{first.index}] at line {first.line}" if first is not None else ""
        c.add(where, f"duplicate id {value!r} (already used{at})")
    else:
        return value
    return None


def _step_settings(c: Checker, value: Any, path: FieldPath, run_settings: Mapping[str, Any]) -> dict:
    where = (*path, "settings")
    own = c.mapping(value, where, "setting sections") or {}
    c.no_refs(own, where)
    if not own:
        return {}
    reported = {loc for loc, _ in settings_problems(run_settings)}
    for loc, message in settings_problems(deep_merge(run_settings, own)):
        if loc in reported and not _written(own, loc):
            continue  # the run-level settings are wrong, and said so already
        c.add((*where, *loc), message)
    return own


def _written(values: Mapping[str, Any], loc: tuple[Any, ...]) -> bool:
    current: Any = values
    for part in loc:
        if not isinstance(current, Mapping) or part not in current:
            return False
        current = current[part]
    return True


def _check_fields(c: Checker, kind: str, params: dict[str, Any], path: FieldPath) -> None:
    step_type = STEP_TYPES[kind]
    specs = step_type.fields
    c.unknown_keys(params, path, tuple(specs))
    for name, spec in specs.items():
        if spec.required and name not in params:
            c.add((*path, name), "required field missing", at=path)
    if step_type.either:
        given = [key for key in step_type.either if key in params]
        choice = " or ".join(step_type.either)
        if not given:
            c.add((*path, step_type.either[0]), f"required field missing: give {choice}", at=path)
        elif len(given) == 2:
            c.add(path, f"give {choice}, not both")
    for name, value in params.items():
        if name not in specs or has_refs(value):
            continue  # referenced values are checked when the step runs
        spec = specs[name]
        try:
            converted = convert(spec.kind, value)
        except ValueError as exc:
            c.add((*path, name), str(exc))
            continue
        if spec.bounded_like:  # e.g. write.factor, bounded where the writer's default is configured
            section, key = spec.bounded_like
            for loc, message in settings_problems({section: {key: converted}}):
                if loc == spec.bounded_like:
                    c.add((*path, name), message)
        if spec.must_exist:
            for number, item in enumerate(converted if isinstance(converted, list) else [converted]):
                if not (c.folder / item).exists():
                    at = (*path, name, number) if isinstance(value, list) else (*path, name)
                    c.add(at, f"{item} does not exist (looked for {c.folder / item})")


def _ref_problem(
    ref: Ref,
    values: Mapping[str, Any],
    defined: Mapping[str, Step | None],
    foreach: ForEach | None,
    in_foreach: bool,
) -> str | None:
    if ref.root == "vars":
        if not ref.path:
            return f"{ref}: name a variable, e.g. ${{vars.NAME}}"
        if ref.path[0] not in values:
            known = f" (defined: {', '.join(values)})" if values else " (the script has no vars)"
            return f"{ref}: no variable {ref.path[0]!r}{known}"
        return _lookup_problem(ref, {"vars": values})
    if ref.root == "item":
        if not in_foreach:
            return f"{ref}: item is only defined in a step with foreach"
        pairs = zip(foreach.items, foreach.labels, strict=True) if foreach else ()
        for item, label in pairs:
            if _lookup_problem(ref, {"item": item}):
                return f"{ref}: the item at {label} has no {'.'.join(map(str, ref.path))!r}"
        return None
    if ref.root not in defined:
        return f"{ref} refers to step {ref.root!r}, which is not defined before this step"
    step = defined[ref.root]
    rest = ref.path
    if step is None:
        return None
    if step.foreach is not None:
        if rest and not isinstance(rest[0], int):
            return (
                f"{ref}: step {ref.root!r} runs once per item (foreach), so its result is a list: "
                f"index it, e.g. ${{{ref.root}.0.{'.'.join(map(str, rest))}}}"
            )
        rest = rest[1:]
    step_type = STEP_TYPES[step.type]
    if rest and step_type.list_of and not isinstance(rest[0], int):
        return (
            f"{ref}: a {step.type} step's result is a list of {step_type.list_of}: "
            f"index it, e.g. ${{{ref.root}.0.text}}"
        )
    fields = step_type.result_fields
    if rest and fields and rest[0] not in fields:
        return f"{ref}: a {step.type} step's result has the fields {', '.join(fields)}"
    return None


def _lookup_problem(ref: Ref, scope: Mapping[str, Any]) -> str | None:
    try:
        lookup(ref, scope)
    except ResolveError as exc:
        return str(exc)
    return None
