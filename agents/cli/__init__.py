"""The ``babelrag`` command line. Heavy imports happen inside commands, so ``--help`` is instant."""

from __future__ import annotations

import sys

from babelrag.agents.cli.app import app
from babelrag.stores.errors import BabelragError


def main() -> None:
    """Entry point: user errors become a message and exit status 1, never a traceback."""
    from babelrag.agents.console import err

    try:
        app()
    except BabelragError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        sys.exit(130)
    except Exception as exc:
        from babelrag.stores.chroma_server import lost_server_error

        lost = lost_server_error(exc)
        if lost is None:
            raise
        _fail(lost)


def _fail(exc: BabelragError) -> None:
    from babelrag.agents.console import err

    err.print(f"[bold red]error:[/] {exc.message}", highlight=False)
    if exc.hint:
        err.print(f"[yellow]hint:[/] {exc.hint}", highlight=False)
    sys.exit(1)


__all__ = ["app", "main"]
