"""The ``babelrag`` command line. Heavy imports happen inside commands, so ``--help`` is instant."""

from __future__ import annotations

import sys

from babelrag.agents.cli.app import app
from babelrag.stores.errors import BabelragError


def main() -> None:
    """Entry point: user errors become a message and exit status 1, never a traceback."""
    from babelrag.agents.console import err
    from babelrag.stores.failures import as_user_error

    def report(exc: BabelragError) -> None:
        err.print(f"[bold red]error:[/] {exc.message}", highlight=False)
        if exc.hint:
            err.print(f"[yellow]hint:[/] {exc.hint}", highlight=False)
        sys.exit(1)

    try:
        app()
    except BabelragError as exc:
        report(exc)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        sys.exit(130)
    except SystemExit as exc:  # typer turns Ctrl-C into a silent exit 130
        if exc.code == 130 and _interrupted(exc):
            err.print("[yellow]interrupted[/]")
        raise
    except Exception as exc:
        from babelrag.stores.chroma_server import lost_server_error

        if (user_error := as_user_error(exc) or lost_server_error(exc)) is None:
            raise
        report(user_error)


def _interrupted(exc: BaseException) -> bool:
    """Whether a Ctrl-C is somewhere in the chain of exceptions that led to ``exc``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return False


__all__ = ["app", "main"]
