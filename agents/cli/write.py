"""``babelrag write``: expand a draft with background from the knowledge base."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from babelrag.agents.cli.common import JsonOption, KbOption, parse_language, runtime_for
from babelrag.stores.errors import ConfigError, StoreError

_HELP = """Commands: [bold]a[/] accept all · [bold]r 2,3[/] reject additions · [bold]k 2[/] keep one again ·
[bold]p[/] another pass · [bold]d[/] show the document · [bold]s [PATH][/] save · [bold]q[/] quit"""


def write(
    ctx: typer.Context,
    draft_file: Annotated[Path, typer.Argument(help="The draft (Markdown or text, any language).")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the result to this file.")
    ] = None,
    lang: Annotated[str | None, typer.Option(help="Language of the draft (default: detected).")] = None,
    factor: Annotated[
        float | None, typer.Option(help="Target length, times the draft's (config write.factor).")
    ] = None,
    sections: Annotated[
        str | None, typer.Option(help="Sections to expand, e.g. 1,3 (default: all; see the numbers in -i).")
    ] = None,
    interactive: Annotated[
        bool, typer.Option("--interactive", "-i", help="Review additions, run more passes, then save.")
    ] = False,
    kb: KbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Expand a draft with cited background from the knowledge base, keeping its language and voice."""
    from babelrag.agents.console import err, out

    draft = _read_draft(draft_file)
    chosen = _numbers(sections)
    language = parse_language(lang)
    if output is not None:
        _check_writable(output)  # before minutes of generation, not after
    with runtime_for(ctx, kb=kb, write={"factor": factor}) as rt:
        assistant = rt.writing_assistant()
        wanted_factor = rt.settings.write.factor
        result = assistant.expand(draft, lang=language, sections=chosen, factor=wanted_factor)
    recovery = rt.settings.home / "recovered"
    if interactive:
        result = _session(assistant, result, output, factor=wanted_factor, sections=chosen, recovery=recovery)
        return
    if json_output:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    elif output:
        save_text(result.render(), output, recovery)
        out.print(f"wrote {output}", highlight=False)
    else:
        typer.echo(result.render(), nl=False)  # the document verbatim: no wrapping, no markup
    if result.note:
        err.print(f"[yellow]{result.note}[/]", highlight=False)


def _session(
    assistant,
    result,
    output: Path | None,
    *,
    factor: float,
    sections: list[int] | None,
    recovery: Path | None = None,
):
    from rich.markup import escape

    from babelrag.agents.console import err, out

    def show() -> None:
        if not result.additions:
            out.print(f"[yellow]{escape(result.note or 'No additions.')}[/]")
        for add in result.additions:
            mark = "[green]✓[/]" if add.accepted else "[red]✗[/]"
            out.print(f"{mark} ({add.id}) [dim]section {add.section}[/] {escape(add.text)}", highlight=False)
            for n, hit in enumerate(add.hits, 1):
                out.print(f"      [dim][{n}] {escape(hit.title)} — {escape(hit.source)}[/]", highlight=False)

    show()
    out.print(_HELP)
    while True:
        try:
            line = input("write> ").strip()
        except (EOFError, KeyboardInterrupt):
            out.print()
            break
        cmd, _, arg = line.partition(" ")
        try:
            if cmd in ("q", "quit", "/quit"):
                break
            if cmd == "a":
                for add in result.additions:
                    add.accepted = True
            elif cmd in ("r", "k"):
                ids = set(_numbers(arg) or [])
                for add in result.additions:
                    if add.id in ids:
                        add.accepted = cmd == "k"
            elif cmd == "p":
                before = len(result.additions)
                with err.status("another pass…"):
                    result = assistant.another_pass(result, factor=factor, sections=sections)
                out.print(f"{len(result.additions) - before} new addition(s)")
            elif cmd == "d":
                out.print(result.render(), markup=False, highlight=False)
                continue
            elif cmd == "s":
                target = Path(arg) if arg else output
                if target is None:
                    out.print("save where? s PATH")
                    continue
                try:
                    save_text(result.render(), target, recovery)
                except StoreError as exc:  # the session goes on: the user can save elsewhere
                    out.print(f"[red]{escape(exc.message)}[/]", highlight=False)
                    continue
                out.print(f"saved {target}")
                continue
            else:
                out.print(_HELP)
                continue
        except ConfigError as exc:
            out.print(f"[red]{escape(str(exc))}[/]")
            continue
        show()
    return result


def _read_draft(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no such draft file: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder; give the draft's file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the draft {path}: {exc.strerror or exc}") from None
    if not text.strip():
        raise ConfigError(f"{path} is empty")
    return text


def _numbers(value: str | None) -> list[int] | None:
    if not value:
        return None
    try:
        numbers = [int(x) for x in value.replace(" ", "").split(",") if x]
    except ValueError:
        raise ConfigError(f"expected numbers like 1,3, got {value!r}") from None
    if any(n < 1 for n in numbers):
        raise ConfigError("section numbers start at 1")
    return numbers


def _check_writable(path: Path) -> None:
    """A clear error now for an output that cannot be written, instead of after the generation."""
    if path.is_dir():
        raise ConfigError(f"-o {path} is a folder; give a file name")
    parent = path.expanduser().parent
    if not parent.is_dir():
        raise ConfigError(f"-o {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"-o {path}: permission denied")


def save_text(text: str, target: Path, recovery: Path | None) -> None:
    """Write ``text`` to ``target``; if that fails, keep it under ``recovery`` (else the temp folder)
    and raise a :class:`StoreError` that says where it is: generated text is never thrown away."""
    try:
        target.expanduser().write_text(text, encoding="utf-8")
        return
    except OSError as exc:
        reason = f"cannot write {target}: {exc.strerror or exc}"
    for folder in (recovery, Path(tempfile.gettempdir())):
        if folder is None:
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, kept = tempfile.mkstemp(
                prefix=time.strftime("write-%Y%m%d-%H%M%S-"), suffix=".md", dir=folder
            )
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError:
            continue
        raise StoreError(f"{reason}; the text was saved to {kept}")
    typer.echo(text, nl=False)
    raise StoreError(f"{reason}, nor anywhere else; the text was printed on stdout instead")
