"""The step-type registry: a new step type is one entry, and the README documents every one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from babelrag.agents.scripting import load_script, run_script
from babelrag.agents.scripting.fields import FieldSpec
from babelrag.agents.scripting.step_types import STEP_TYPES, StepCall, StepType
from tests.agents.scripting.helpers import EXAMPLES, FakeBackend, invalid, write_script

pytestmark = pytest.mark.unit


class ShoutingBackend(FakeBackend):
    """A backend with one more method, for a step type that exists only in a test."""

    def shout(self, text: str, times: int | None, settings: dict) -> str:
        self._record("shout", text=text, times=times, settings=settings)
        return " ".join([text.upper()] * (times or 1))


def _shout(call: StepCall) -> dict:
    return {"text": call.backend.shout(call.inputs["text"], call.inputs.get("times"), call.settings)}


SHOUT = StepType(
    fields={"text": FieldSpec("text", required=True), "times": FieldSpec("count")},
    run=_shout,
    section=lambda inp, output: [f"**Shouted:** {output['text']}", ""],
    result_fields=("text",),
)


def _table_rows(text: str, heading: str) -> dict[str, list[str]]:
    """The rows of the table under ``heading`` in a Markdown text, by their first cell."""
    section = text.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split(" | ") for line in section.splitlines() if line.startswith("| `")]
    return {row[0].strip("` "): row for row in rows}


class TestStepTypes:
    """Each step type is declared once, in STEP_TYPES: the validator, the runner and the report read
    it, and the README documents what it declares."""

    def test_a_new_step_type_is_one_entry(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(STEP_TYPES, "shout", SHOUT)
        message = invalid(tmp_path, "version: 1\nsteps:\n  - shot: {text: x}\n  - shout: {times: 0}\n")
        expected = (
            "unknown step type 'shot' (expected one of ingest, search, ask, translate, write, chat, shout)"
        )
        assert f"line 3, steps[0]: {expected}; did you mean 'shout'?" in message
        assert "line 4, steps[1].shout.text: required field missing" in message
        assert "line 4, steps[1].shout.times: must be >= 1 (got 0)" in message
        text = "version: 1\nsteps:\n  - id: s\n    shout: {text: hey}\n  - ask: {question: '${s.txt}'}\n"
        assert (
            "line 5, steps[1].ask.question: ${s.txt}: a shout step's result has the fields text"
            in invalid(tmp_path, text)
        )

        text = "version: 1\noutputs: {jsonl: r.jsonl, markdown: r.md}\nsteps:\n  - id: s\n"
        text += "    shout: {text: hey, times: 2}\n    settings: {retrieval: {k: 2}}\n"
        text += "  - ask: {question: '${s.text}?'}\n"
        backend = ShoutingBackend()
        report = run_script(load_script(write_script(tmp_path, text)), backend)
        assert backend.of("shout") == [{"text": "hey", "times": 2, "settings": {"retrieval": {"k": 2}}}]
        assert backend.of("ask")[0]["question"] == "HEY HEY?"
        assert report.records[0]["type"] == "shout" and report.records[0]["output"] == {"text": "HEY HEY"}
        markdown = (tmp_path / "r.md").read_text(encoding="utf-8")
        assert "## 1. shout `s`\n\n**Shouted:** HEY HEY\n" in markdown

    def test_the_readme_documents_every_step_type(self) -> None:
        readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
        rows = _table_rows(readme, "## Steps")
        assert list(rows) == list(STEP_TYPES)
        for name, step_type in STEP_TYPES.items():
            fields = rows[name][1]
            named = set(re.findall(r"`([a-z_]+)`", fields))
            bold = set(re.findall(r"\*\*`([a-z_]+)`\*\*", fields))
            assert set(step_type.fields) <= named, f"{name}: undocumented fields"
            required = {n for n, spec in step_type.fields.items() if spec.required}
            assert bold == required | set(step_type.either or ()), f"{name}: required fields"
        assert "(expected one of " + ", ".join(STEP_TYPES) + ")" in readme
