"""Script files: loading and validation, before anything runs.

Every problem is collected with its line and field path and reported together, so a script is
fixed in one pass rather than one error per attempt. The format is documented in
``examples/scripts/README.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from babelrag.agents.scripting.errors import Issue, ScriptError, format_field
from babelrag.agents.scripting.located import (
    FieldPath,
    line_of,
    load_yaml_with_lines,
    settings_problems,
    suggest,
)
from babelrag.agents.scripting.model import VERSION, ForEach, Script, Step
from babelrag.agents.scripting.steps import check_step
from babelrag.agents.scripting.templates import IDENT, find_refs

TOP_KEYS = ("version", "title", "kb", "settings", "vars", "outputs", "on_error", "steps")
OUTPUT_KEYS = ("jsonl", "markdown")


def load_script(path: str | Path, *, variables: Mapping[str, Any] | None = None) -> Script:
    """Read and validate a script; raises :class:`ScriptError` listing every problem found.

    ``variables`` (e.g. from ``--var NAME=VALUE``) override or add to the script's ``vars``.
    """
    name = str(path)
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScriptError(f"script {name} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScriptError(f"cannot read script {name}: {exc}") from None
    return parse_script(text, path=path.resolve(), name=name, variables=variables)


def parse_script(
    text: str, *, path: Path, name: str | None = None, variables: Mapping[str, Any] | None = None
) -> Script:
    """Validate script text as if it were the file ``path`` (relative paths start at its folder)."""
    name = name or path.name
    data, lines, issues = load_yaml_with_lines(text, name)
    checker = Checker(lines, path.parent, issues)
    script = checker.script(data, path, name, dict(variables or {}))
    if checker.issues or script is None:
        raise ScriptError.invalid(name, checker.issues)
    return script


class Checker:
    """Collects located problems instead of stopping at the first."""

    def __init__(self, lines: dict[FieldPath, int], folder: Path, issues: list[Issue]) -> None:
        self.lines = lines
        self.folder = folder
        self.issues = issues

    def add(self, path: FieldPath, message: str, *, at: FieldPath | None = None) -> None:
        self.issues.append(Issue(line_of(self.lines, at or path), format_field(path), message))

    def mapping(self, value: Any, path: FieldPath, what: str) -> dict[str, Any] | None:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.add(path, f"must be a mapping of {what} (got {value!r})")
            return None
        return value

    def unknown_keys(self, value: Mapping[str, Any], path: FieldPath, known: tuple[str, ...]) -> None:
        for key in value:
            if key not in known:
                expected = ", ".join(known)
                self.add((*path, key), f"unknown field {key!r} (expected {expected}){suggest(key, known)}")

    def no_refs(self, value: Any, path: FieldPath) -> None:
        for where, _ in find_refs(value, path):
            self.add(where, "${...} is not expanded here; only step fields take references")

    # -- top level ------------------------------------------------------------------------------
    def script(self, data: Any, path: Path, name: str, variables: dict[str, Any]) -> Script | None:
        if not isinstance(data, dict):
            self.add((), "a script is a mapping with version and steps (see examples/scripts)")
            return None
        self.unknown_keys(data, (), TOP_KEYS)
        if "version" not in data:
            self.add(("version",), f"required field missing (write version: {VERSION})", at=())
        elif data["version"] != VERSION:
            self.add(("version",), f"unsupported version {data['version']!r} (this babelrag reads {VERSION})")
        title = data.get("title")
        if title is not None and not isinstance(title, str):
            self.add(("title",), "must be a string")
        on_error = data.get("on_error", "stop")
        if on_error not in ("stop", "continue"):
            self.add(("on_error",), f"must be 'stop' or 'continue' (got {on_error!r})")
        settings = self.run_settings(data)
        values = {**(self.mapping(data.get("vars"), ("vars",), "names to values") or {}), **variables}
        for key in values:
            if not IDENT.match(str(key)):
                self.add(("vars", key), "a name is letters, digits and '_', not starting with a digit")
        self.no_refs(values, ("vars",))
        outputs = self.mapping(data.get("outputs"), ("outputs",), "output kinds to paths") or {}
        self.unknown_keys(outputs, ("outputs",), OUTPUT_KEYS)
        self.no_refs(outputs, ("outputs",))
        for key in OUTPUT_KEYS:
            if key in outputs and not (isinstance(outputs[key], str) and outputs[key].strip()):
                self.add(("outputs", key), f"must be a file path (got {outputs[key]!r})")
        steps = self.steps(data, settings, values)
        return Script(
            path=path,
            name=name,
            steps=tuple(steps),
            title=title if isinstance(title, str) else None,
            settings=settings,
            vars=values,
            jsonl=self.output_path(outputs.get("jsonl")),
            markdown=self.output_path(outputs.get("markdown")),
            on_error=on_error if on_error in ("stop", "continue") else "stop",
        )

    def output_path(self, value: Any) -> Path | None:
        return self.folder / value if isinstance(value, str) and value.strip() else None

    def run_settings(self, data: dict[str, Any]) -> dict[str, Any]:
        settings = self.mapping(data.get("settings"), ("settings",), "setting sections") or {}
        self.no_refs(settings, ("settings",))
        if "kb" in data:
            if "kb" in settings:
                self.add(("kb",), "kb is given twice (here and in settings): keep one")
            settings = {**settings, "kb": data["kb"]}
        for loc, message in settings_problems(settings):
            self.add(("kb",) if loc[:1] == ("kb",) and "kb" in data else ("settings", *loc), message)
        return settings

    def steps(self, data: dict[str, Any], settings: dict[str, Any], values: dict[str, Any]) -> list[Step]:
        raw = data.get("steps")
        if raw is None:
            self.add(("steps",), "required field missing: a script needs at least one step", at=())
            return []
        if not isinstance(raw, list) or not raw:
            self.add(("steps",), "must be a non-empty list of steps")
            return []
        defined: dict[str, Step | None] = {}
        steps = [check_step(self, index, item, settings, values, defined) for index, item in enumerate(raw)]
        return [step for step in steps if step is not None]

    # -- batch input -----------------------------------------------------------------------------
    def foreach(self, value: Any, path: FieldPath) -> ForEach | None:
        if isinstance(value, list):
            return self.inline_items(value, path)
        if not isinstance(value, str) or not value.strip():
            self.add(path, "must be a JSONL file path or a list of mappings" + f" (got {value!r})")
            return None
        self.no_refs(value, path)
        file = self.folder / value
        if not file.is_file():
            self.add(path, f"file {value} does not exist (looked for {file})")
            return None
        try:
            content = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.add(path, f"cannot read {value}: {exc}")
            return None
        items: list[dict[str, Any]] = []
        labels: list[str] = []
        for number, text in enumerate(content.splitlines(), start=1):
            if not text.strip():
                continue
            try:
                item = json.loads(text)
            except json.JSONDecodeError as exc:
                self.add(path, f"{value} line {number} is not valid JSON: {exc.msg}")
                continue
            if not isinstance(item, dict):
                self.add(path, f'{value} line {number} must be a JSON object, e.g. {{"question": "..."}}')
                continue
            items.append(item)
            labels.append(f"{value} line {number}")
        if not items and not any(i.field == format_field(path) for i in self.issues):
            self.add(path, f"{value} has no items")
        return ForEach(value, tuple(items), tuple(labels)) if items else None

    def inline_items(self, value: list[Any], path: FieldPath) -> ForEach | None:
        if not value:
            self.add(path, "must not be an empty list")
            return None
        bad = [i for i, item in enumerate(value) if not isinstance(item, dict)]
        for index in bad:
            self.add((*path, index), "each item must be a mapping, e.g. {question: ...}")
        self.no_refs(value, path)
        if bad:
            return None
        labels = tuple(f"line {line_of(self.lines, (*path, i))}" for i in range(len(value)))
        return ForEach("inline list", tuple(value), labels)
