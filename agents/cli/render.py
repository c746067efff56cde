"""How results look in the terminal (and as JSON)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rich.markup import escape

from babelrag.agents.console import display_path, err, out, shorten

if TYPE_CHECKING:  # a search must not pay for importing the answer chain
    from babelrag.chains.answer import AnswerResult
    from babelrag.stores.ingest import IngestReport


def version_notes(metadata: Mapping[str, object]) -> str:
    """What a hit is besides itself: a machine translation (of which language, by what), and the
    other languages its entity matched in. A translation is never shown as if it were the original."""
    notes = []
    if metadata.get("translated_from"):
        notes.append(
            f"machine translation from {metadata['translated_from']} ({metadata.get('translator', '?')})"
        )
    if metadata.get("also_in"):
        notes.append(f"also in: {metadata['also_in']}")
    return "; ".join(notes)


def print_hits(query: str, hits: Sequence[Mapping[str, Any]]) -> None:
    """One block per passage: rank, score, language, title and source, then the text.

    Takes hits in their JSON form (``SearchHit.to_dict``), as both an in-process search and a
    running service give them, so the two print the same."""
    if not hits:
        out.print(f"No passages found for {query!r}.", highlight=False)
        return
    out.print(f"[bold]{len(hits)} passages for:[/] {escape(query)}", highlight=False)
    for rank, hit in enumerate(hits, 1):
        out.print()
        out.print(
            f"[bold cyan]{rank}.[/] [green]{hit['score']:.3f}[/]  [magenta]{hit['lang']}[/]  "
            f"[bold]{escape(hit['title'])}[/]  [dim]{escape(display_path(hit['source']))}[/]",
            highlight=False,
        )
        if notes := version_notes(hit.get("metadata") or {}):
            out.print(f"    [yellow]{escape(notes)}[/]", highlight=False)
        out.print("    " + escape(shorten(hit["text"], 400)), highlight=False)


def print_ingest_report(report: IngestReport, *, kb: str, json_output: bool) -> None:
    if json_output:
        out.print_json(json.dumps({"kb": kb, **asdict(report)}, ensure_ascii=False))
        return
    for source, reason in report.failed:
        err.print(f"[red]failed:[/] {display_path(source)}: {reason}", highlight=False)
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    out.print(
        f"Knowledge base [bold]{kb}[/]: {len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.failed)} failed "
        f"({report.chunks_embedded} chunks embedded, {report.chunks_kept} kept, "
        f"{report.chunks_removed} removed"
        + (f", {report.chunks_translated} translations" if report.chunks_translated else "")
        + (
            f", {report.translations_dropped} translations dropped: not in the language asked"
            if report.translations_dropped
            else ""
        )
        + ")",
        highlight=False,
    )


def print_interrupted_ingest(report: IngestReport, *, kb: str) -> None:
    """What an interrupted ingest kept, and that running it again resumes."""
    written = len(report.added) + len(report.updated)
    err.print(
        f"[yellow]interrupted:[/] {written} files were written to knowledge base [bold]{kb}[/] and are "
        f"kept ({report.chunks_embedded} chunks embedded). Run the same command again to resume: "
        "written and unchanged files are skipped, a file caught half-way is completed.",
        highlight=False,
    )


def print_answer(result: AnswerResult, *, streamed: bool = False) -> None:
    """The checked answer, then its sources; translations and timings dimmed below."""
    from babelrag.stores.langdetect import language_name

    if streamed:
        out.rule("checked against the sources", style="dim")
    out.print(escape(result.answer), highlight=False)
    if result.sources:
        out.print()
        print_sources(result.sources)
    details = []
    if result.translations:
        details.append(
            "searched also as: "
            + "; ".join(f"{language_name(k)}: {v}" for k, v in result.translations.items())
        )
    if result.timings:
        details.append(
            "timings: " + ", ".join(f"{k.removesuffix('_s')} {v:.1f}s" for k, v in result.timings.items())
        )
    details.extend(result.notes)
    for line in details:
        err.print(f"[dim]{escape(line)}[/]", highlight=False)


def print_sources(sources: Sequence[dict]) -> None:
    """``[n] title  lang  path  score`` per cited passage."""
    if not sources:
        out.print("[dim](no sources)[/]")
    for src in sources:
        out.print(
            f"[bold cyan][{src['ref']}][/] [bold]{escape(src['title'])}[/]  [magenta]{src['lang']}[/]  "
            f"[dim]{escape(display_path(src['source']))}  score {src['score']:.3f}[/]",
            highlight=False,
        )
