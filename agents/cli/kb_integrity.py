"""``babelrag kb check``, ``kb export`` and ``kb import``: is a knowledge base sound, and its backups."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from babelrag.agents.cli.common import JsonOption, KbOption, NoWaitOption, runtime_for


def check(
    ctx: typer.Context,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Delete chunks that cannot be trusted, drop leftovers of an interrupted re-embedding, "
            "and ingest the damaged files again (loads the embedder).",
        ),
    ] = False,
    kb: KbOption = None,
    no_wait: NoWaitOption = False,
    json_output: JsonOption = False,
) -> None:
    """Verify a knowledge base: chunk ids against their texts, one fingerprint per file, vectors of the
    recorded dimension, orphaned chunks, files that no longer exist, the store file itself.

    Exit status 0 when sound (or repaired), 1 when problems remain.
    """
    from babelrag.agents.cli.render import print_ingest_report
    from babelrag.agents.console import display_path, err, out
    from babelrag.stores.integrity import check as check_kb
    from babelrag.stores.integrity import repair as repair_kb

    with runtime_for(ctx, kb=kb) as rt, rt.writer_lock(wait=not no_wait):
        store = rt.catalog().open(rt.settings.kb)
        report = check_kb(store, chroma_dir=rt.settings.chroma_dir, progress=rt.progress)
        fixed = None
        if repair and not report.ok:
            fixed = repair_kb(store, report, reingest=lambda paths: rt.ingestor().ingest(paths, rt.progress))
            after = check_kb(store, chroma_dir=rt.settings.chroma_dir, progress=rt.progress)
    if json_output:
        data = report.to_dict()
        if fixed is not None:
            data["repair"] = {
                "deleted": fixed.deleted,
                "marked": fixed.marked,
                "dropped": fixed.dropped,
                "reingested": asdict(fixed.reingested) if fixed.reingested else None,
                "ok_after": after.ok,
            }
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        out.print(
            f"[bold]{report.kb}[/]: {report.chunks} entries (chunks, heading and section entries) from "
            f"{report.sources} files, embedder "
            f"{report.embedder_id} ({report.dimension} dimensions), store file: {report.store_file or 'n/a'}",
            highlight=False,
        )
        lines = [
            (report.problems, "problem"),
            (report.orphans, "orphaned chunks (no source or fingerprint)"),
            (report.bad_ids, "chunks whose id is not the hash of their text"),
            (report.bad_vectors, "chunks without a vector of the recorded dimension"),
            (report.mixed, "files with chunks of two versions (an interrupted update)"),
            (report.incomplete, "files with fewer chunks than they record (an interrupted write)"),
            (report.unpublished, "files with unpublished chunks (an interrupted update)"),
            (report.leftovers, "leftover collections of an interrupted re-embedding"),
        ]
        for items, what in lines:
            if items:
                out.print(f"[red]{len(items)} {what}[/]: " + ", ".join(map(display_path, items[:5])))
        if report.missing_files:
            out.print(
                f"[yellow]{len(report.missing_files)} files no longer exist[/] (kept; remove them with "
                "`babelrag remove PATH`): " + ", ".join(map(display_path, report.missing_files[:5])),
                highlight=False,
            )
        if fixed is not None:
            out.print(
                f"repaired: {fixed.deleted} chunks deleted, {len(fixed.marked)} files marked changed, "
                f"{len(fixed.dropped)} leftover collections dropped",
                highlight=False,
            )
            if fixed.reingested is not None:
                print_ingest_report(fixed.reingested, kb=report.kb, json_output=False)
            out.print("[green]sound now[/]" if after.ok else "[red]problems remain[/]")
        elif report.ok:
            out.print("[green]sound[/]")
        else:
            err.print(
                "[yellow]hint:[/] `babelrag kb check --repair` fixes what can be fixed", highlight=False
            )
    if not (after.ok if fixed is not None else report.ok):
        raise typer.Exit(1)


def export(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The JSON Lines file to write (replaced when complete).")],
    kb: KbOption = None,
    no_wait: NoWaitOption = False,
    json_output: JsonOption = False,
) -> None:
    """Write a knowledge base (texts, metadata, vectors, embedder id) to a portable JSON Lines file."""
    from babelrag.agents.console import out
    from babelrag.stores.export import export_jsonl

    with runtime_for(ctx, kb=kb) as rt, rt.writer_lock(wait=not no_wait):  # a consistent snapshot
        report = export_jsonl(rt.catalog().open(rt.settings.kb), file, progress=rt.progress)
    if json_output:
        typer.echo(json.dumps(asdict(report), indent=2))
        return
    out.print(
        f"exported {report.chunks} entries of {report.kb} ({report.embedder_id}) to {report.path} "
        f"in {report.seconds:.1f} s",
        highlight=False,
    )


def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A file written by `babelrag kb export`.")],
    kb: Annotated[
        str | None,
        typer.Option(
            "--kb",
            help="Knowledge base to import into (default: the exported one's name).",
            show_default=False,
        ),
    ] = None,
    reembed: Annotated[
        bool,
        typer.Option(
            "--reembed",
            help="Embed the texts with the configured embedder instead of importing the vectors "
            "(for a knowledge base of another embedding model).",
        ),
    ] = False,
    no_wait: NoWaitOption = False,
    json_output: JsonOption = False,
) -> None:
    """Load an export into a knowledge base; running it again after an interruption finishes it."""
    from babelrag.agents.config import Settings
    from babelrag.agents.console import err, out
    from babelrag.stores.export import import_jsonl, read_header
    from babelrag.stores.ingest import settings_hash

    header = read_header(file)
    name = Settings.check_kb_name(kb or str(header.get("kb") or ""))
    with runtime_for(ctx, kb=name) as rt, rt.writer_lock(wait=not no_wait):
        embedder = rt.embedder if reembed else None
        fingerprints = None
        if embedder is not None:  # as `kb reembed` does: the next ingest sees the files unchanged
            chunker = rt.chunker()
            fingerprints = {
                ctx: settings_hash(
                    chunker, embedder.model_id, context=ctx, sections=rt.settings.ingest.section_entries
                )
                for ctx in (True, False)
            }
        try:
            report = import_jsonl(
                rt.chroma,
                file,
                kb=name,
                reembed=embedder,
                fingerprint_hash=fingerprints,
                progress=rt.progress,
            )
        except KeyboardInterrupt:
            err.print(
                f"[yellow]interrupted:[/] the chunks imported so far are kept in [bold]{name}[/]; run the "
                "same command again to finish (chunks already there are not duplicated).",
                highlight=False,
            )
            raise typer.Exit(130) from None
    if json_output:
        typer.echo(json.dumps(asdict(report), ensure_ascii=False, indent=2))
    else:
        for warning in report.warnings:
            err.print(f"[yellow]skipped:[/] {warning}", highlight=False)
        how = (
            f"re-embedded with {report.embedder_id}"
            if report.reembedded
            else f"vectors of {report.embedder_id}"
        )
        out.print(
            f"imported {report.chunks} entries into {report.kb} ({how}); {report.skipped} lines skipped",
            highlight=False,
        )
    if report.skipped and not report.chunks:
        raise typer.Exit(1)
