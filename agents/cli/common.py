"""Options shared by commands, and turning them into settings and a runtime."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from babelrag.stores.errors import ConfigError

KbOption = Annotated[
    str | None,
    typer.Option(
        "--kb", help="Knowledge base name (env BABELRAG_KB; default: 'default').", show_default=False
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
NoWaitOption = Annotated[
    bool,
    typer.Option(
        "--no-wait", help="Fail at once if another process is writing the knowledge base, instead of waiting."
    ),
]


@dataclass
class GlobalOptions:
    config: Path | None = None
    home: Path | None = None
    quiet: bool = False


def global_options(ctx: typer.Context) -> GlobalOptions:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, GlobalOptions) else GlobalOptions()


def settings_from(ctx: typer.Context, **overrides: Any):
    from babelrag.agents.config import load_settings

    opts = global_options(ctx)
    return load_settings(opts.config, home=opts.home, **overrides)


@contextmanager
def runtime_for(ctx: typer.Context, *, json_output: bool = False, **overrides: Any) -> Iterator[Any]:
    """A runtime whose progress bars show on stderr (hidden with --quiet)."""
    from babelrag.agents.console import RichProgress
    from babelrag.agents.runtime import Runtime

    settings = settings_from(ctx, **overrides)
    with RichProgress(enabled=not global_options(ctx).quiet) as progress:
        yield Runtime(settings, progress)


def parse_where(items: list[str] | None) -> dict[str, str | int | float | bool] | None:
    """``key=value`` filters; values that look like numbers or booleans are typed."""
    if not items:
        return None
    out: dict[str, str | int | float | bool] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--where expects KEY=VALUE, got {item!r}")
        out[key.strip()] = _typed(value.strip())
    return out


def parse_language(value: str | None) -> str | None:
    """A language option (``zh-CN``, ``German``, ``de``) as an ISO 639-1 code; None stays None."""
    from babelrag.stores.langdetect import normalize_language_code

    if value is None:
        return None
    try:
        return normalize_language_code(value)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _typed(value: str) -> str | int | float | bool:
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value
