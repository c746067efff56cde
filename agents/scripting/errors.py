"""The one error a script raises, the located problems it collects, and a field that fails at run time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from babelrag.stores.errors import BabelragError

if TYPE_CHECKING:
    from babelrag.agents.scripting.runner import RunReport

FORMAT_HINT = "nothing was run; the script format is described in examples/scripts/README.md"


@dataclass(frozen=True, order=True)
class Issue:
    """One problem at one line of a script; ``field`` is a path such as ``steps[2].ask.question``."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.message}"


class ScriptError(BabelragError):
    """A script is invalid (``issues``, all of them) or one of its steps failed (``report``)."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        issues: Iterable[Issue] = (),
        report: RunReport | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.issues = list(issues)
        self.report = report

    @classmethod
    def invalid(cls, name: str, issues: Iterable[Issue]) -> ScriptError:
        found = sorted(set(issues))
        if len(found) == 1:
            return cls(f"{name} {found[0]}", hint=FORMAT_HINT, issues=found)
        lines = "\n".join(f"  {issue}" for issue in found)
        return cls(f"{name}: {len(found)} errors\n{lines}", hint=FORMAT_HINT, issues=found)


class InputError(ValueError):
    """A step field whose value is unusable when the step runs (a resolved reference of the wrong
    kind, a file that cannot be read); names the field so the runner can point at its line."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def format_field(path: tuple[Any, ...]) -> str:
    """``("steps", 2, "ask", "question")`` -> ``steps[2].ask.question``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "script"
