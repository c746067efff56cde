"""Who may call the service: loopback by default, an API key for anything wider.

A server that binds beyond loopback without a key would hand the knowledge base (and the uploads
route, which writes into the data directory) to the whole network, so :func:`check_bind` refuses
to start it. Keys are compared with :func:`hmac.compare_digest`, in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import Request

from babelrag.agents.service.errors import AuthenticationError
from babelrag.stores.errors import ConfigError


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it could resolve to anything
        return False


def check_bind(host: str, api_key: str | None) -> None:
    """Refuse a non-loopback bind without an API key (raised before the socket opens)."""
    if not is_loopback(host) and not api_key:
        raise ConfigError(
            f"binding {host} exposes the service beyond this machine, so it needs an API key",
            hint="pass --api-key KEY or set BABELRAG_API_KEY (clients send 'Authorization: Bearer KEY')",
        )


def presented_key(request: Request) -> str | None:
    """The key a request carries: ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``."""
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key") or None


def key_matches(presented: str | None, expected: str) -> bool:
    if presented is None:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


def require_api_key(request: Request) -> None:
    """A dependency of every ``/v1`` route (the API): passes when no key is configured or the right
    one is sent. ``/healthz``, ``/docs`` and the web page's files reveal no content and stay open."""
    expected: str | None = request.app.state.api_key
    if not expected:
        return
    presented = presented_key(request)
    if presented is None:
        raise AuthenticationError("this server needs an API key")
    if not key_matches(presented, expected):
        raise AuthenticationError("wrong API key")
