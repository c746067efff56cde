"""The CLI's use of a running local ``babelrag serve``: answers in well under a second, no model load.

A one-shot ``babelrag search`` spends seconds importing torch and loading the embedder; a running
service has both loaded. The CLI asks ``/healthz`` with a very short timeout and uses the service
only when it serves the same data directory and embedder as the CLI's own settings; anything else
(nothing listening, another home, an error, a timeout) returns None and the CLI goes on in-process
as if no service existed. Only the standard library's ``http.client`` is imported here: no FastAPI,
no models, and not httpx either (importing it costs ~0.15 s of CPU, a sixth of the 1 s budget).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from babelrag.agents.config import Settings


def service_address(settings: Settings) -> tuple[str, int]:
    """Where a local service listens: the configured port, on loopback when bound to every address."""
    host = settings.service.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return host.strip("[]"), settings.service.port


def _headers(settings: Settings) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    key = settings.service.api_key
    if key is not None:
        headers["Authorization"] = f"Bearer {key.get_secret_value()}"
    return headers


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


#: What a failed exchange with the service raises: go on in-process (or report, mid-stream).
_FAILURES = (OSError, http.client.HTTPException, ValueError, KeyError, _Unused)


@contextmanager
def _connection(settings: Settings, *, generator: bool) -> Iterator[http.client.HTTPConnection]:
    """A connection to the service for this data home (checked with ``/healthz``), or :class:`_Unused`."""
    host, port = service_address(settings)
    conn = http.client.HTTPConnection(host, port, timeout=settings.service.cli_connect_timeout_s)
    try:
        conn.request("GET", "/healthz", headers=_headers(settings))
        health = conn.getresponse()
        body = health.read()
        if health.status != 200 or not serves_same_home(json.loads(body), settings, generator=generator):
            raise _Unused
        assert conn.sock is not None
        conn.sock.settimeout(settings.service.request_timeout_s)  # answers take longer than a health check
        yield conn
    finally:
        conn.close()


def _post(conn: http.client.HTTPConnection, settings: Settings, path: str, payload: dict[str, Any]) -> Any:
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    conn.request("POST", path, body=data, headers=_headers(settings))
    return conn.getresponse()


def call_service(
    settings: Settings, path: str, payload: dict[str, Any], *, generator: bool = False
) -> dict[str, Any] | None:
    """``POST path`` on the running service for this data home, or None to go on in-process.

    ``generator``: the request generates, so the service must also run the configured generator."""
    try:
        with _connection(settings, generator=generator) as conn:
            response = _post(conn, settings, path, payload)
            body = response.read()
            if response.status != 200:
                return None  # the in-process path gives the user its own, canonical error
            return json.loads(body)
    except _FAILURES:
        return None


class StreamBroken(Exception):
    """The service failed after part of the answer was shown: too late to fall back silently."""


def stream_service(
    settings: Settings, path: str, payload: dict[str, Any], on_token: Callable[[str], None]
) -> dict[str, Any] | None:
    """Stream an answer from the service (``on_token`` per piece) and return its ``result`` event;
    None to go on in-process, as long as no piece was shown."""
    shown = False
    try:
        with _connection(settings, generator=True) as conn:
            response = _post(conn, settings, path, {**payload, "stream": True})
            if response.status != 200:
                return None
            event = "message"
            for raw in response:
                line = raw.decode("utf-8").rstrip("\r\n")
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
    except (*_FAILURES, StreamBroken) as exc:
        if shown:
            raise StreamBroken(str(exc) or type(exc).__name__) from None
        return None
    if shown:
        raise StreamBroken("the service closed the stream before the answer was complete")
    return None
