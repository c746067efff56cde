"""The FastAPI app: routes, error handlers, API key, CORS, and the generator's life.

``create_app`` takes a ready :class:`Service` (the composition root built its runtime), so tests
hand in one over fake models and the server one over the real ones.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request

from babelrag.agents.service.backend import Service, package_version
from babelrag.agents.service.errors import install_error_handlers
from babelrag.agents.service.schemas import Health
from babelrag.agents.service.security import require_api_key

_DESCRIPTION = """Cross-lingual search, answers with citations, chat sessions and the writing assistant
over your knowledge bases, with local models. Errors are `{"error": {"message", "type", "hint"}}`.
Send `Authorization: Bearer KEY` (or `X-API-Key`) when the server has an API key."""


def create_app(service: Service) -> FastAPI:
    """The app over ``service``; the generator's worker starts with the app and stops with it."""
    from babelrag.agents.service import openai_compat, routes_kbs, routes_rag, routes_sessions

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.queue.start()
        try:
            yield
        finally:
            service.queue.close()

    app = FastAPI(
        title="babelrag",
        version=package_version(),
        description=_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.service = service
    key = service.settings.service.api_key
    app.state.api_key = key.get_secret_value() if key is not None else None
    install_error_handlers(app)
    if service.settings.service.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(service.settings.service.cors_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "Accept"],
        )

    @app.get("/healthz", response_model=Health, tags=["service"])
    async def healthz(request: Request) -> dict[str, Any]:
        """Liveness, version, the data directory and the queue (open without an API key)."""
        return request.app.state.service.health()

    guarded = [Depends(require_api_key)]
    for module in (routes_rag, routes_sessions, routes_kbs, openai_compat):
        app.include_router(module.router, dependencies=guarded)
    _mount_web_page(app)
    return app


def _mount_web_page(app: FastAPI) -> None:
    """The web page at ``/`` when its module is there (``agents/service/web.py``: ``mount(app)``)."""
    try:
        from babelrag.agents.service import web  # type: ignore[attr-defined]
    except ImportError:
        return
    web.mount(app)
