"""The CLI's use of a running local ``babelrag serve``: answers in well under a second, no model load.

A one-shot ``babelrag search`` spends seconds importing torch and loading the embedder; a running
service has both loaded. The CLI asks ``/healthz`` with a very short timeout and uses the service
only when it serves the same data directory and embedder as the CLI's own settings; anything else
(nothing listening, another home, an error, a timeout) returns None and the CLI goes on in-process
as if no service existed. Only httpx is imported here: no FastAPI, no models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


def serves_same_home(health: Any, settings: Settings, *, generator: bool = False) -> bool:
    """Whether a service's ``/healthz`` is for this data directory and embedder (and generator)."""
    return (
        isinstance(health, dict)
        and health.get("status") == "ok"
        and health.get("home") == str(settings.home.resolve())
        and health.get("embedder") == settings.models.embedder
        and health.get("embedding_backend") == settings.models.backend
        and (not generator or health.get("generator") == settings.models.generator)
    )


class _Unused(Exception):
    """The service is not there or not for this data home: go on in-process."""


@contextmanager
def _client(settings: Settings, *, generator: bool) -> Iterator[Any]:
    """An HTTP client to the service for this data home, or :class:`_Unused`."""
    import httpx

    connect = settings.service.cli_connect_timeout_s
    with httpx.Client(
        base_url=service_url(settings),
        headers=_headers(settings),
        timeout=httpx.Timeout(settings.service.request_timeout_s, connect=connect),
        trust_env=False,  # loopback: never through a proxy from the environment
    ) as client:
        try:
            health = client.get("/healthz", timeout=connect)
            ours = health.status_code == 200 and serves_same_home(
                health.json(), settings, generator=generator
            )
        except (httpx.HTTPError, ValueError):
            ours = False
        if not ours:
            raise _Unused
        yield client


def call_service(
    settings: Settings, path: str, payload: dict[str, Any], *, generator: bool = False
) -> dict[str, Any] | None:
    """``POST path`` on the running service for this data home, or None to go on in-process.

    ``generator``: the request generates, so the service must also run the configured generator."""
    import httpx

    try:
        with _client(settings, generator=generator) as client:
            response = client.post(path, json=payload)
            if response.status_code != 200:
                return None  # the in-process path gives the user its own, canonical error
            return response.json()
    except (httpx.HTTPError, ValueError, _Unused):
        return None


class StreamBroken(Exception):
    """The service failed after part of the answer was shown: too late to fall back silently."""


def stream_service(
    settings: Settings, path: str, payload: dict[str, Any], on_token: Callable[[str], None]
) -> dict[str, Any] | None:
    """Stream an answer from the service (``on_token`` per piece) and return its ``result`` event;
    None to go on in-process, as long as no piece was shown."""
    import json

    import httpx

    shown = False
    try:
        with (
            _client(settings, generator=True) as client,
            client.stream("POST", path, json={**payload, "stream": True}) as response,
        ):
            if response.status_code != 200:
                return None
            event = "message"
            for line in response.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data = json.loads(line[5:])
                    if event == "token":
                        shown = True
                        on_token(data["text"])
                    elif event == "result":
                        return data
                    elif event == "error":
                        raise StreamBroken(data["error"]["message"])
    except (httpx.HTTPError, ValueError, _Unused, StreamBroken) as exc:
        if shown:
            raise StreamBroken(str(exc) or type(exc).__name__) from None
        return None
    if shown:
        raise StreamBroken("the service closed the stream before the answer was complete")
    return None
