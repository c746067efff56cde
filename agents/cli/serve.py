"""``babelrag serve``: the HTTP API (and the web page) over the data directory, with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from babelrag.agents.cli.common import KbOption, global_options, settings_from


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option(help="Address to bind (service.host; default 127.0.0.1). Others need an API key."),
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (service.port; default 8000).")] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="BABELRAG_API_KEY",
            help="Key clients must send (Authorization: Bearer KEY or X-API-Key). Env BABELRAG_API_KEY.",
            show_default=False,
        ),
    ] = None,
    queue_size: Annotated[
        int | None, typer.Option(help="Requests that may wait for the generator (service.queue_size).")
    ] = None,
    request_timeout: Annotated[
        float | None, typer.Option(help="Seconds a request may take (service.request_timeout_s).")
    ] = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(help="Allow this browser origin (repeatable; service.cors_origins). Default: CORS off."),
    ] = None,
    kb: KbOption = None,
) -> None:
    """Serve the HTTP API: search, ask (streamed), write, chat sessions, knowledge bases, OpenAI-compatible
    chat. Binds 127.0.0.1 unless told otherwise; a wider bind needs an API key. Docs at /docs."""
    import uvicorn

    from babelrag.agents.console import RichProgress, err
    from babelrag.agents.runtime import Runtime
    from babelrag.agents.service.app import create_app
    from babelrag.agents.service.backend import Service
    from babelrag.agents.service.security import check_bind

    settings = settings_from(
        ctx,
        kb=kb,
        service={
            "host": host,
            "port": port,
            "api_key": api_key,
            "queue_size": queue_size,
            "request_timeout_s": request_timeout,
            "cors_origins": cors_origin or None,
        },
    )
    cfg = settings.service
    check_bind(cfg.host, cfg.api_key.get_secret_value() if cfg.api_key else None)
    with RichProgress(enabled=not global_options(ctx).quiet) as progress:
        service = Service(Runtime(settings, progress))
        service.warm_up()
    shown = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
    err.print(
        f"babelrag serving {settings.home} (default kb {settings.kb!r}) on http://{shown}:{cfg.port}"
        f"  — web page: http://{shown}:{cfg.port}/  — API docs: http://{shown}:{cfg.port}/docs"
        + ("  — API key required" if cfg.api_key else ""),
        highlight=False,
    )
    uvicorn.run(create_app(service), host=cfg.host, port=cfg.port, log_level="info", access_log=False)
