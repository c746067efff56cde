"""Running a validated script against a backend: resolve references, call, record, report.

The runner knows nothing about models or stores, nor about any step type: it runs each step as
its :class:`~babelrag.agents.scripting.step_types.StepType` says, against a :class:`ScriptBackend`
that the composition root implements, so scripts are tested with a fake and run for real by the CLI.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from babelrag.agents.scripting.errors import InputError, ScriptError
from babelrag.agents.scripting.fields import convert
from babelrag.agents.scripting.model import Script, Step
from babelrag.agents.scripting.report import render_markdown
from babelrag.agents.scripting.step_types import STEP_TYPES, ScriptBackend, StepCall
from babelrag.agents.scripting.templates import ResolveError, TemplateSyntaxError, resolve
from babelrag.stores.errors import BabelragError
from babelrag.stores.progress import NullProgress, Progress


@dataclass
class RunReport:
    """What a run did; also attached to the :class:`ScriptError` that stops a run."""

    script: Script
    records: list[dict[str, Any]] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)  # by step id; foreach steps hold lists
    failures: list[str] = field(default_factory=list)  # tolerated with ``on_error: continue``
    written: list[Path] = field(default_factory=list)
    stopped: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures and self.stopped is None

    def write_file(self, path: Path, text: str) -> None:
        """Write one of the run's files (folders as needed) and record it in ``written``."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ScriptError(f"cannot write {path}: {exc}") from None
        if path not in self.written:
            self.written.append(path)


def run_script(script: Script, backend: ScriptBackend, *, progress: Progress | None = None) -> RunReport:
    """Run every step in order. Each step (each item of a ``foreach``) becomes one JSONL record,
    flushed as it finishes so a crash keeps what was done; the Markdown report is written at the
    end, also when a failing step stops the run (raised as :class:`ScriptError` with the report).
    """
    progress = progress or NullProgress()
    report = RunReport(script)
    started = time.perf_counter()
    sink = _open(script.jsonl, report)
    try:
        for step in script.steps:
            _run_step(script, step, backend, report, sink, progress)
    finally:
        if sink is not None:
            sink.close()
        report.seconds = time.perf_counter() - started
        if script.markdown is not None:
            try:
                report.write_file(script.markdown, render_markdown(report))
            except ScriptError:
                if report.stopped is None:
                    raise  # else the step's error is the one to see
    return report


def _run_step(
    script: Script,
    step: Step,
    backend: ScriptBackend,
    report: RunReport,
    sink: IO[str] | None,
    progress: Progress,
) -> None:
    items: tuple[dict[str, Any] | None, ...] = step.foreach.items if step.foreach else (None,)
    outputs: list[Any] = []
    with progress.task(step.label, total=len(items)) as task:
        for number, item in enumerate(items):
            scope = {"vars": script.vars, **report.results}
            if item is not None:
                scope["item"] = item
            record: dict[str, Any] = {"step": step.key, "index": step.index, "type": step.type}
            if step.foreach:
                record["item"] = number
            started = time.perf_counter()
            output = error = cause = None
            try:
                inputs = _inputs(step, scope)
                record["input"] = inputs
                call = StepCall(backend, inputs, script.settings_for(step), script.folder, report)
                output = STEP_TYPES[step.type].run(call)
            except Exception as exc:  # a script records any failure and goes on or stops cleanly
                record.setdefault("input", None)
                error, cause = _describe(script, step, number, exc), exc
            record["output"] = output
            record["seconds"] = round(time.perf_counter() - started, 3)
            if error:
                record["error"] = error
            report.records.append(record)
            if sink is not None:
                sink.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
                sink.flush()
            if error and script.on_error == "stop":
                report.stopped = error
                hint = getattr(cause, "hint", None) or _STOP_HINT  # a model or store error knows its fix
                raise ScriptError(error, hint=hint, report=report) from cause
            if error:
                report.failures.append(error)
                progress.log(error)
            outputs.append(output)
            task.advance()
    if step.id is not None:
        report.results[step.id] = outputs if step.foreach else outputs[0]


_STOP_HINT = "records of the steps before it were kept; set on_error: continue to run the remaining steps"


def _inputs(step: Step, scope: dict[str, Any]) -> dict[str, Any]:
    """The step's fields with references resolved, checked as validation checks literal values."""
    specs = STEP_TYPES[step.type].fields
    out: dict[str, Any] = {}
    for name, value in step.params.items():
        try:
            out[name] = convert(specs[name].kind, resolve(value, scope))
        except (ResolveError, TemplateSyntaxError, ValueError) as exc:
            raise InputError(name, str(exc)) from None
    return out


def _describe(script: Script, step: Step, number: int, exc: BaseException) -> str:
    item = f" item {number} ({step.foreach.labels[number]})" if step.foreach else ""
    if isinstance(exc, InputError):
        line = step.field_lines.get(exc.name, step.line)
        return f"{script.where(line)}, steps[{step.index}].{step.type}.{exc.name}{item}: {exc}"
    reason = exc.message if isinstance(exc, BabelragError) else f"{type(exc).__name__}: {exc}"
    return f"{script.where(step.line)}, {step.label}{item}: {step.type} failed: {reason}"


def _open(path: Path | None, report: RunReport) -> IO[str] | None:
    if path is None:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sink = path.open("w", encoding="utf-8")
    except OSError as exc:
        raise ScriptError(f"cannot write {path}: {exc}") from None
    report.written.append(path)
    return sink
