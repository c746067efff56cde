"""``babelrag chat``: multi-turn cross-lingual dialogue over the knowledge base."""

from __future__ import annotations

from typing import Annotated

import typer

from babelrag.agents.cli.common import KbOption, runtime_for
from babelrag.stores.errors import BabelragError

_HELP = "/sources  /lang CODE|auto  /reset  /quit   (any other line is a question)"


def chat(
    ctx: typer.Context,
    session_id: Annotated[str | None, typer.Option("--session", help="Resume a saved session by id.")] = None,
    list_sessions: Annotated[bool, typer.Option("--list", help="List saved sessions and exit.")] = False,
    kb: KbOption = None,
) -> None:
    """Talk with the knowledge base: each turn is answered in its own language; follow-ups use the history."""
    from rich.markup import escape

    from babelrag.agents.cli.render import print_answer, print_sources
    from babelrag.agents.console import err, out
    from babelrag.chains.answer import AnswerResult
    from babelrag.stores.langdetect import normalize_language_code

    with runtime_for(ctx, kb=kb) as rt:
        store = rt.session_store()
        if list_sessions:
            sessions, damaged = store.scan()
            for path, why in damaged:
                err.print(f"[yellow]skipped {escape(str(path))}: {escape(why)}[/]", highlight=False)
            for s in sessions:
                first = next((t.content for t in s.turns if t.role == "user"), "")
                out.print(
                    f"{s.id}  kb={s.kb}  {len(s.turns) // 2} turns  {escape(first[:60])}", highlight=False
                )
            return
        session = store.load(session_id) if session_id else store.new(rt.settings.kb)
        if session.kb != rt.settings.kb and kb is None:
            rt = rt.with_kb(session.kb)  # a resumed session goes on with its own knowledge base
        dialogue = rt.dialogue()
        _ = rt.llm  # load the models before the first prompt
    verb = "resumed" if session_id else "new"
    out.print(f"[bold]babelrag chat[/] — {verb} session [cyan]{session.id}[/] on kb [bold]{session.kb}[/]")
    out.print(f"[dim]{_HELP}\nresume later with: babelrag chat --session {session.id}[/]")
    last: AnswerResult | None = None
    while True:
        try:
            line = input("\nyou> ").strip()
        except (EOFError, KeyboardInterrupt):
            out.print()
            break
        if not line:
            continue
        if line.startswith("/"):
            cmd, _, arg = line.partition(" ")
            if cmd in ("/quit", "/exit", "/q"):
                break
            if cmd == "/help":
                out.print(_HELP)
            elif cmd == "/sources":
                print_sources(last.sources if last else [])
            elif cmd == "/reset":
                session.turns.clear()
                store.save(session)
                out.print("history cleared")
            elif cmd == "/lang":
                try:
                    session.lang = (
                        None if arg.strip() in ("", "auto") else normalize_language_code(arg.strip())
                    )
                except ValueError as exc:
                    out.print(f"[red]{escape(str(exc))}[/]")
                    continue
                store.save(session)
                out.print(f"answers in: {session.lang or 'the language of each question'}")
            else:
                out.print(f"unknown command {cmd}; {_HELP}")
            continue
        out.print("[bold green]babelrag>[/] ", end="")
        try:
            for item in dialogue.stream(session, line):
                if isinstance(item, AnswerResult):
                    last = item
                else:
                    out.print(item, end="", markup=False, highlight=False, style="dim")
        except BabelragError as exc:
            err.print(f"\n[red]error:[/] {escape(exc.message)}")
            continue
        out.print()
        print_answer(last, streamed=True)
        store.save(session)
