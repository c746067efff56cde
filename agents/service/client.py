"""The CLI's use of a running local ``babelrag serve``: answers in well under a second, no model load.

A one-shot ``babelrag search`` spends seconds importing torch and loading the embedder; a running
service has both loaded. The CLI asks ``/healthz`` with a very short timeout and uses the service
only when it serves the same data directory and embedder as the CLI's own settings; anything else
(nothing listening, another home, an error, a timeout) returns None and the CLI goes on in-process
as if no service existed. Only httpx is imported here: no FastAPI, no models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from babelrag.agents.config import Settings


def service_url(settings: Settings) -> str:
    """Where a local service listens: the configured port, on loopback when bound to every address."""
    host = settings.service.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return (
        f"http://[{host}]:{settings.service.port}"
        if ":" in host
        else f"http://{host}:{settings.service.port}"
    )


def _headers(settings: Settings) -> dict[str, str]:
    key = settings.service.api_key
    return {"Authorization": f"Bearer {key.get_secret_value()}"} if key is not None else {}


def serves_same_home(health: Any, settings: Settings) -> bool:
    """Whether a service's ``/healthz`` is for this data directory and embedder."""
    return (
        isinstance(health, dict)
        and health.get("status") == "ok"
        and health.get("home") == str(settings.home.resolve())
        and health.get("embedder") == settings.models.embedder
        and health.get("embedding_backend") == settings.models.backend
    )


def call_service(settings: Settings, path: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """``POST path`` on the running service for this data home, or None to go on in-process."""
    import httpx

    connect = settings.service.cli_connect_timeout_s
    try:
        with httpx.Client(
            base_url=service_url(settings),
            headers=_headers(settings),
            timeout=httpx.Timeout(settings.service.request_timeout_s, connect=connect),
            trust_env=False,  # loopback: never through a proxy from the environment
        ) as client:
            health = client.get("/healthz", timeout=connect)
            if health.status_code != 200 or not serves_same_home(health.json(), settings):
                return None
            response = client.post(path, json=payload)
            if response.status_code != 200:
                return None  # the in-process path gives the user its own, canonical error
            return response.json()
    except (httpx.HTTPError, ValueError):
        return None
