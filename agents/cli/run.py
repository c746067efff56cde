"""``babelrag run``: scripted chain runs from a YAML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from babelrag.agents.cli.common import global_options
from babelrag.stores.errors import ConfigError


def run(
    ctx: typer.Context,
    script: Annotated[Path, typer.Argument(help="A babelrag script (see examples/scripts/README.md).")],
    var: Annotated[
        list[str] | None,
        typer.Option("--var", help="Set or override a script variable NAME=VALUE (repeatable)."),
    ] = None,
    check: Annotated[bool, typer.Option("--check", help="Only validate the script.")] = False,
) -> None:
    """Run a YAML script of steps (ingest, search, ask, translate, write, chat); results to JSONL/Markdown."""
    from babelrag.agents.config import load_settings
    from babelrag.agents.console import RichProgress, out
    from babelrag.agents.runtime import Runtime
    from babelrag.agents.script_backend import RuntimeBackend
    from babelrag.agents.scripting import load_script, run_script

    script_obj = load_script(script, variables=_vars(var))  # validation before anything runs
    if check:
        out.print(f"{script}: valid, {len(script_obj.steps)} steps")
        return
    opts = global_options(ctx)

    def make_settings(**overrides):
        return load_settings(opts.config, home=opts.home, **overrides)

    base_overrides = {"kb": script_obj.kb} if getattr(script_obj, "kb", None) else {}
    with RichProgress(enabled=not opts.quiet) as progress:
        runtime = Runtime(make_settings(**base_overrides), progress)
        report = run_script(script_obj, RuntimeBackend(runtime, make_settings), progress=progress)
    out.print(f"{len(report.records)} records in {report.seconds:.1f} s", highlight=False)
    for path in report.written:
        out.print(f"wrote {path}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


def _vars(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--var expects NAME=VALUE, got {item!r}")
        out[name.strip()] = value
    return out
