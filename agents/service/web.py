"""The web page at ``/``: static files served by the API's own app, nothing to build.

``static/`` holds plain HTML, CSS and JavaScript modules (no framework, nothing fetched from the
internet); the page talks to the same ``/v1`` routes as any other client. ``create_app`` mounts it
through :func:`mount`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).with_name("static")

# the page is small and changes with the package: revalidate rather than cache for a day
_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}

# The page runs only its own files and talks only to its own origin: should a passage ever get
# past the code that shows text as text, the browser would still refuse to run it.
_PAGE_HEADERS = {
    **_HEADERS,
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}


class _StaticFiles(StaticFiles):
    def file_response(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        response = super().file_response(*args, **kwargs)
        response.headers.update(_HEADERS)
        return response


def mount(app: FastAPI) -> None:
    """``GET /`` (the page) and ``/static/*`` (its files); both open without an API key, like
    ``/healthz``: the page holds no data, and asks for the key before its first API call."""
    app.mount("/static", _StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(
            STATIC / "index.html", media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS
        )
