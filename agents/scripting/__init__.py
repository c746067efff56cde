"""Scripted chain runs: ``babelrag run SCRIPT.yaml``.

A script is a versioned YAML file listing steps (ingest, ask, translate, …), validated as a whole
before anything runs and executed against a :class:`ScriptBackend` that the composition root
provides. The format is documented in ``examples/scripts/README.md``; each step type is declared
once, in :mod:`~babelrag.agents.scripting.step_types`.
"""

from __future__ import annotations

from babelrag.agents.scripting.errors import Issue, ScriptError
from babelrag.agents.scripting.model import ForEach, Script, Step
from babelrag.agents.scripting.runner import RunReport, run_script
from babelrag.agents.scripting.schema import load_script, parse_script
from babelrag.agents.scripting.step_types import ScriptBackend

__all__ = [
    "ForEach",
    "Issue",
    "RunReport",
    "Script",
    "ScriptBackend",
    "ScriptError",
    "Step",
    "load_script",
    "parse_script",
    "run_script",
]
