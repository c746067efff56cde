"""The step types of a script, each declared once, and the backend they run against.

A step type is one :class:`StepType` in :data:`STEP_TYPES`: the fields it takes, what its result
looks like, how it runs and how its record reads in the Markdown report. The validator
(``steps.py``), the runner and the report read this table and list step types nowhere else; its
order is the order in messages (``expected one of ingest, search, …``).

A new step type is its entry here (with its ``run`` function below and its section in
``sections.py``), plus the :class:`ScriptBackend` method that does the work, implemented by
``RuntimeBackend`` in ``babelrag.agents.script_backend``. Its row in the step table of
``examples/scripts/README.md`` is checked by a test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from babelrag.agents.scripting import sections
from babelrag.agents.scripting.errors import InputError
from babelrag.agents.scripting.fields import FieldSpec

if TYPE_CHECKING:
    from babelrag.agents.scripting.runner import RunReport


class ScriptBackend(Protocol):
    """What a script can do: one method per step type, called by its ``run``. ``settings`` is the
    merged override dict for the step (run-level ``kb`` and ``settings`` deep-merged with the
    step's own), in the shape of the TOML config."""

    def ingest(self, paths: list[Path], settings: dict[str, Any]) -> dict[str, Any]: ...

    def search(
        self,
        query: str,
        k: int | None,
        lang: str | None,
        where: dict[str, Any] | None,
        settings: dict[str, Any],
    ) -> list[dict[str, Any]]: ...

    def ask(self, question: str, lang: str | None, settings: dict[str, Any]) -> dict[str, Any]: ...

    def translate(self, text: str, source: str | None, target: str, settings: dict[str, Any]) -> str: ...

    def write(
        self,
        draft: str,
        lang: str | None,
        factor: float | None,
        sections: list[int] | None,
        settings: dict[str, Any],
    ) -> dict[str, Any]: ...

    def chat(self, session: str | None, turns: list[str], settings: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class StepCall:
    """One run of a step (one item of a ``foreach``), as its step type's ``run`` receives it."""

    backend: ScriptBackend
    inputs: dict[str, Any]  # the step's fields, references resolved and values converted
    settings: dict[str, Any]  # see ScriptBackend
    folder: Path  # the script's folder
    report: RunReport  # files the step writes are recorded here

    def path(self, value: str) -> Path:
        """Relative paths start at the script's folder, wherever the run was started."""
        return (self.folder / Path(value).expanduser()).resolve()


@dataclass(frozen=True)
class StepType:
    """All that the validator, the runner and the report know of one step type."""

    fields: Mapping[str, FieldSpec]
    run: Callable[[StepCall], Any]  # calls the backend; what it returns is the step's result
    section: Callable[[dict[str, Any], Any], list[str]]  # (input, output) -> Markdown lines
    either: tuple[str, str] | None = None  # exactly one of these two fields is required
    # What references into the result may read, checked before the run; a result the backend
    # shapes is not described here and is checked when it is read.
    result_fields: tuple[str, ...] = ()  # the fields of a result that ``run`` builds itself
    list_of: str | None = None  # the result is a list of these (e.g. "hits"): references index it


# -- how each step type runs -----------------------------------------------------------------------
def _ingest(call: StepCall) -> Any:
    return call.backend.ingest([call.path(p) for p in call.inputs["paths"]], call.settings)


def _search(call: StepCall) -> Any:
    inp = call.inputs
    hits = call.backend.search(inp["query"], inp.get("k"), inp.get("lang"), inp.get("where"), call.settings)
    return list(hits)


def _ask(call: StepCall) -> Any:
    return call.backend.ask(call.inputs["question"], call.inputs.get("lang"), call.settings)


def _translate(call: StepCall) -> Any:
    inp = call.inputs
    text = call.backend.translate(inp["text"], inp.get("from"), inp["to"], call.settings)
    return {"text": text, "from": inp.get("from"), "to": inp["to"]}


def _write(call: StepCall) -> Any:
    inp = call.inputs
    draft = inp.get("draft")
    if draft is None:
        file = call.path(inp["draft_file"])
        try:
            draft = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError("draft_file", f"cannot read {file}: {exc}") from None
    result = dict(
        call.backend.write(draft, inp.get("lang"), inp.get("factor"), inp.get("sections"), call.settings)
    )
    if inp.get("output"):
        target = call.path(inp["output"])
        call.report.write_file(target, str(result.get("text", "")))
        result["output"] = str(target)
    return result


def _chat(call: StepCall) -> Any:
    session = call.inputs.get("session", "new")
    return call.backend.chat(None if session == "new" else session, call.inputs["turns"], call.settings)


STEP_TYPES: dict[str, StepType] = {
    "ingest": StepType(
        fields={"paths": FieldSpec("paths", required=True, must_exist=True)},
        run=_ingest,
        section=sections.ingest,
    ),
    "search": StepType(
        fields={
            "query": FieldSpec("text", required=True),
            "k": FieldSpec("count"),
            "lang": FieldSpec("lang"),
            "where": FieldSpec("filters"),
        },
        run=_search,
        section=sections.search,
        list_of="hits",
    ),
    "ask": StepType(
        fields={"question": FieldSpec("text", required=True), "lang": FieldSpec("lang")},
        run=_ask,
        section=sections.ask,
    ),
    "translate": StepType(
        fields={
            "text": FieldSpec("text", required=True),
            "to": FieldSpec("lang", required=True),
            "from": FieldSpec("lang"),
        },
        run=_translate,
        section=sections.translate,
        result_fields=("text", "from", "to"),
    ),
    "write": StepType(
        fields={
            "draft": FieldSpec("text"),
            "draft_file": FieldSpec("path", must_exist=True),
            "lang": FieldSpec("lang"),
            "factor": FieldSpec("factor", bounded_like=("write", "factor")),
            "sections": FieldSpec("sections"),
            "output": FieldSpec("path"),
        },
        run=_write,
        section=sections.write,
        either=("draft", "draft_file"),
    ),
    "chat": StepType(
        fields={"turns": FieldSpec("texts", required=True), "session": FieldSpec("text")},
        run=_chat,
        section=sections.chat,
    ),
}
