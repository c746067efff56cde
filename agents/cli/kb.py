"""``babelrag kb`` (knowledge bases) and ``babelrag config``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from babelrag.agents.cli import kb_integrity
from babelrag.agents.cli.common import (
    JsonOption,
    KbOption,
    NoWaitOption,
    global_options,
    runtime_for,
    settings_from,
)

kb_app = typer.Typer(help="List, inspect, check, back up and drop knowledge bases.", no_args_is_help=True)
config_app = typer.Typer(help="Show the effective configuration.", no_args_is_help=True)


@kb_app.command("list")
def list_kbs(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Knowledge bases in the data directory (or the Chroma server), with chunk counts."""
    from babelrag.agents.console import out

    with runtime_for(ctx) as rt:
        kbs = rt.catalog().list()
    if json_output:
        typer.echo(json.dumps(kbs))
        return
    if not kbs:
        out.print(
            f"No knowledge bases in {rt.settings.store_location} yet. "
            "Add one with: babelrag ingest PATH --kb NAME"
        )
    for name, count in sorted(kbs.items()):
        out.print(f"{name}\t{count} chunks", highlight=False)


@kb_app.command("info")
def info(ctx: typer.Context, kb: KbOption = None, json_output: JsonOption = False) -> None:
    """Sources, languages and the embedding model of one knowledge base."""
    from babelrag.agents.console import display_path, out

    with runtime_for(ctx, kb=kb) as rt:
        kb_info = rt.catalog().info(rt.settings.kb)
    if json_output:
        typer.echo(json.dumps(kb_info.to_dict(), ensure_ascii=False, indent=2))
        return
    out.print(
        f"[bold]{kb_info.name}[/]: {kb_info.chunks} chunks from {len(kb_info.sources)} sources, "
        f"embedder {kb_info.embedder_id}",
        highlight=False,
    )
    languages = kb_info.languages.most_common()
    out.print("languages: " + ", ".join(f"{k} ({v})" for k, v in languages), highlight=False)
    for source, n in sorted(kb_info.sources.items()):
        out.print(f"  {display_path(source)}  [dim]{n} chunks[/]", highlight=False)


@kb_app.command("drop")
def drop(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Knowledge base to delete.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a knowledge base (its chunks and vectors; your files are not touched)."""
    from babelrag.agents.console import out

    with runtime_for(ctx, kb=name) as rt, rt.writer_lock():
        catalog = rt.catalog()
        chunks = catalog.open(name).chunk_count()
        if not yes:
            typer.confirm(f"Delete knowledge base {name!r} ({chunks} chunks)?", abort=True)
        catalog.drop(name)
    out.print(f"dropped {name}")


@kb_app.command("reembed")
def reembed(
    ctx: typer.Context,
    embedder: Annotated[
        str | None,
        typer.Option(
            "--embedder",
            help="The new embedding model: a babelrag/ pack name, a HF id or a folder "
            "(default: models.embedder).",
        ),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend",
            help="How the new embedder runs: torch or onnx-int8 (default: what models.embedding_backend "
            "chooses for the new embedder).",
        ),
    ] = None,
    kb: KbOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    no_wait: NoWaitOption = False,
    json_output: JsonOption = False,
) -> None:
    """Move a knowledge base to another embedding model, from the text it stores (no file is read).

    The old index stays in use until the new one is complete. With neither option, the knowledge
    base moves to the configured embedder and backend.
    """
    from dataclasses import asdict

    from babelrag.agents.console import err, out
    from babelrag.agents.hf_models import embedder_id

    with runtime_for(ctx, kb=kb) as rt:
        models = rt.settings.models
        embedder = embedder or models.embedder
        backend = _backend(backend) if backend else models.model_copy(update={"embedder": embedder}).backend
        target_id = embedder_id(embedder, backend)
        kb_info = rt.catalog().info(rt.settings.kb)
        if kb_info.embedder_id == target_id:
            out.print(f"{kb_info.name} already uses {target_id}; nothing to do", highlight=False)
            return
        if not yes and not json_output:
            typer.confirm(
                f"Re-embed {kb_info.chunks} chunks of {kb_info.name!r} with {target_id} "
                f"(now {kb_info.embedder_id})?",
                abort=True,
            )
        with rt.writer_lock(wait=not no_wait):
            try:
                report = rt.reembed(embedder, backend=backend)
            except KeyboardInterrupt:
                err.print(
                    f"[yellow]interrupted:[/] knowledge base [bold]{kb_info.name}[/] still uses its old "
                    f"index ({kb_info.embedder_id}), unchanged. Run the command again to start over.",
                    highlight=False,
                )
                raise typer.Exit(130) from None
    if json_output:
        typer.echo(json.dumps(asdict(report), indent=2))
        return
    out.print(
        f"re-embedded {report.chunks} chunks of {report.kb} with {report.new_embedder} "
        f"({report.dimension} dimensions) in {report.seconds:.0f} s",
        highlight=False,
    )
    out.print(
        f"use it with models.embedder = {embedder!r} and models.embedding_backend = {backend!r} in the "
        f"config, or BABELRAG_MODELS__EMBEDDER={embedder} BABELRAG_MODELS__EMBEDDING_BACKEND={backend}",
        highlight=False,
    )


def _backend(name: str) -> str:
    from typing import get_args

    from babelrag.agents.config import EmbeddingBackend
    from babelrag.stores.errors import ConfigError

    choices = [c for c in get_args(EmbeddingBackend) if c != "auto"]
    if name not in choices:
        raise ConfigError(f"unknown embedding backend {name!r}", hint=f"choose one of {', '.join(choices)}")
    return name


@config_app.command("show")
def show(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Print the effective settings (defaults < config file < environment < flags)."""
    from babelrag.agents.config import config_file_path, settings_to_toml
    from babelrag.agents.console import out

    settings = settings_from(ctx)
    path, _ = config_file_path(global_options(ctx).config)
    if json_output:
        typer.echo(settings.model_dump_json(indent=2))
        return
    state = "read" if path.exists() else "not found, defaults used"
    out.print(f"# config file: {path} ({state})", highlight=False, markup=False)
    out.print(settings_to_toml(settings), highlight=False, markup=False)


kb_app.command("check")(kb_integrity.check)
kb_app.command("export")(kb_integrity.export)
kb_app.command("import")(kb_integrity.import_)
