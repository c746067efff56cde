"""The root command and the knowledge-store commands: ingest, remove, search."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from babelrag.agents.cli.ask import ask
from babelrag.agents.cli.chat import chat
from babelrag.agents.cli.common import (
    GlobalOptions,
    JsonOption,
    KbOption,
    NoWaitOption,
    parse_language,
    parse_where,
    runtime_for,
    settings_from,
)
from babelrag.agents.cli.evaluate import eval_app
from babelrag.agents.cli.kb import config_app, kb_app
from babelrag.agents.cli.models import models_app
from babelrag.agents.cli.run import run
from babelrag.agents.cli.serve import serve
from babelrag.agents.cli.train import train_app
from babelrag.agents.cli.write import write
from babelrag.stores.errors import ConfigError

app = typer.Typer(
    name="babelrag",
    help="Ask, search and write in your language over a knowledge base in any languages, with local models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(models_app, name="models")
app.add_typer(kb_app, name="kb")
app.add_typer(config_app, name="config")
app.add_typer(eval_app, name="eval")
app.add_typer(train_app, name="train")
app.command()(ask)
app.command()(chat)
app.command()(write)
app.command()(run)
app.command()(serve)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"babelrag {version('babelrag')}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="TOML config file (env BABELRAG_CONFIG).", show_default=False),
    ] = None,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home", help="Data directory (env BABELRAG_HOME; default: XDG data home).", show_default=False
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    ctx.obj = GlobalOptions(config=config, home=home, quiet=quiet)


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Files or folders (.txt .md .html .pdf .jsonl), Wikidata JSON dumps (.json[.gz|.bz2]), "
            "DBpedia abstracts (.ttl[.bz2])."
        ),
    ],
    kb: KbOption = None,
    chunk_tokens: Annotated[
        int | None, typer.Option(help="Chunk size in embedder tokens (config ingest.chunk_tokens).")
    ] = None,
    translate_to: Annotated[
        str | None,
        typer.Option(
            help="Also store machine translations of each passage into these languages, e.g. en,zh "
            "(config ingest.translate_to; marked as translations, answers cite the originals).",
            show_default=False,
        ),
    ] = None,
    dump_format: Annotated[
        str,
        typer.Option("--format", help="Read dumps as: auto (by name and content), wikidata, dbpedia."),
    ] = "auto",
    wikidata_filter: Annotated[
        list[str] | None,
        typer.Option(
            help="Keep only matching Wikidata entities (repeatable, all must hold): P31:Q5,Q515 "
            "(instance of), P279:Q7725634 (subclass of), sitelink[:enwiki,dewiki], ids:FILE.",
            show_default=False,
        ),
    ] = None,
    languages: Annotated[
        str | None,
        typer.Option(
            help="Dumps: only documents in these languages, e.g. en,de,zh (default: every language "
            "babelrag knows).",
            show_default=False,
        ),
    ] = None,
    no_wait: NoWaitOption = False,
    json_output: JsonOption = False,
) -> None:
    """Add files to a knowledge base. Unchanged files are skipped; changed files replace their chunks.

    Dumps: one document per Wikidata entity and language, or per DBpedia abstract and language;
    a newer dump re-embeds only the entities whose text changed. Safe to interrupt (Ctrl-C, a
    crash): what was written is kept and the same command resumes.
    """
    from babelrag.agents.cli.render import print_ingest_report, print_interrupted_ingest
    from babelrag.stores.graph_dumps import FORMATS, DumpOptions
    from babelrag.stores.ingest import IngestReport
    from babelrag.stores.wikidata import WikidataFilter

    if dump_format not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {dump_format!r}")
    targets = _languages(translate_to, "--translate-to")
    overrides = {"chunk_tokens": chunk_tokens, "translate_to": targets}
    report = IngestReport()
    with (
        runtime_for(ctx, kb=kb, ingest=overrides) as rt,
        rt.writer_lock(wait=not no_wait),
    ):
        dumps = DumpOptions(
            format=dump_format,
            wikidata_filter=WikidataFilter.parse(wikidata_filter or []),
            languages=tuple(_languages(languages, "--languages") or ()),
            work_dir=rt.settings.home / "tmp",
        )
        existed = rt.settings.kb in rt.catalog().names()
        try:
            rt.ingestor(dumps).ingest(paths, rt.progress, report=report)
        except KeyboardInterrupt:
            print_interrupted_ingest(report, kb=rt.settings.kb)
            raise typer.Exit(130) from None
        finally:
            if not existed:  # a first ingest that landed nothing leaves no empty knowledge base
                _forget_if_empty(rt)
    print_ingest_report(report, kb=rt.settings.kb, json_output=json_output)
    if report.failed and not (report.added or report.updated or report.unchanged):
        raise typer.Exit(1)


def _languages(value: str | None, option: str) -> list[str] | None:
    """A comma-separated language list as ISO 639-1 codes; None when not given."""
    if value is None:
        return None
    codes = [parse_language(v.strip()) for v in value.split(",") if v.strip()]
    if not codes:
        raise ConfigError(f"{option} expects languages such as en,zh")
    return [c for c in dict.fromkeys(codes) if c]


def _forget_if_empty(rt) -> None:
    catalog = rt.catalog()
    if catalog.list().get(rt.settings.kb) == 0:
        catalog.drop(rt.settings.kb)


@app.command()
def remove(
    ctx: typer.Context,
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Ingested files, folders to remove everything below, or dump records (wikidata:Q42)."
        ),
    ],
    kb: KbOption = None,
    no_wait: NoWaitOption = False,
) -> None:
    """Remove sources (and all their chunks) from a knowledge base."""
    from babelrag.agents.console import display_path, err, out
    from babelrag.stores.ingest import remove_sources

    with runtime_for(ctx, kb=kb) as rt, rt.writer_lock(wait=not no_wait):
        report = remove_sources(rt.catalog().open(rt.settings.kb), paths)
    for source, n in report.removed.items():
        out.print(f"removed {display_path(source)} ({n} chunks)", highlight=False)
    for path in report.not_found:
        err.print(f"[yellow]not in knowledge base {rt.settings.kb!r}:[/] {path}", highlight=False)
    if report.not_found:
        raise typer.Exit(1)


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="What to look for, in any language.")],
    k: Annotated[int | None, typer.Option("-k", "--k", help="Number of passages (config search.k).")] = None,
    lang: Annotated[
        str | None, typer.Option(help="Only passages in this language (e.g. en, zh, de).", show_default=False)
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(help="Metadata filter KEY=VALUE (repeatable; all must match).", show_default=False),
    ] = None,
    translate: Annotated[
        bool,
        typer.Option(
            "--translate",
            help="Also search with the query translated into the knowledge base's languages "
            "(local generator), fused by rank.",
        ),
    ] = False,
    lexical: Annotated[bool, typer.Option("--lexical", help="Fuse in BM25 keyword search.")] = False,
    chunks: Annotated[
        bool,
        typer.Option(
            "--chunks", help="Rank raw chunks (several may come from one document) instead of documents."
        ),
    ] = False,
    kb: KbOption = None,
    no_service: Annotated[
        bool,
        typer.Option(
            "--no-service",
            help="Search in this process even when a local `babelrag serve` for this data directory "
            "runs (config service.use_from_cli).",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Search a knowledge base across languages. Scores are cosine similarity clipped to 0-1.

    Returns k distinct documents, each with its best-matching chunk (--chunks: the k best chunks).
    Plain search ranks by the embedding alone (passages and section headings). With --translate a
    passage counts with its best cosine to your query or a translation of it; --lexical fuses in
    BM25 by rank.
    A running local `babelrag serve` over the same data directory answers instead, without loading
    a model here (the output is the same).
    """
    from babelrag.agents.limits import check_query

    filters = parse_where(where)
    language = parse_language(lang)
    settings = settings_from(ctx, kb=kb, search={"k": k})
    query = check_query(query, settings)  # before any model or service
    result = None
    if settings.service.use_from_cli and not no_service:
        from babelrag.agents.service.client import call_service

        payload = {
            "query": query,
            "kb": settings.kb,
            "k": settings.search.k,
            "lang": language,
            "where": filters,
            "translate": translate,
            "lexical": lexical,
            "chunks": chunks,
        }
        result = call_service(settings, "/v1/search", payload)
    if result is None:
        with runtime_for(ctx, kb=kb, search={"k": k}) as rt:
            retriever = rt.cross_lingual_retriever(
                k=rt.settings.search.k,
                translate=translate,
                lexical=lexical,
                lang=language,
                where=filters,
                group_documents=not chunks,
            )
            found = retriever.retrieve(query)
        result = {"hits": [h.to_dict() for h in found.hits], "translations": found.translations}
    _print_search(query, result, json_output=json_output)


def _print_search(query: str, result: dict, *, json_output: bool) -> None:
    """The hits of an in-process or a service search, printed the same way."""
    from rich.markup import escape

    from babelrag.agents.cli.render import print_hits
    from babelrag.agents.console import err

    if json_output:
        typer.echo(json.dumps(result["hits"], ensure_ascii=False, indent=2))
        return
    for target, text in result["translations"].items():
        err.print(f"[dim]translated ({target}):[/] {escape(text)}", highlight=False, soft_wrap=True)
    print_hits(query, result["hits"])
