"""A Chroma server as the store: several babelrag processes, on one machine or many, share its
knowledge bases.

What makes that correct is that a knowledge base keeps no state outside its Chroma collection:

- the embedder id and dimension are the collection's metadata (checked on every open);
- the ingest "manifest" is the chunks' own metadata: each chunk carries its file's fingerprint
  (content hash + chunking/embedder settings), so an ingest from any process compares against
  what the server holds, and chunk ids are content hashes, so two processes writing the same
  file write the same rows;
- the BM25 index and the language counts are rebuilt from the collection's chunks, and the
  collection's ``revision`` (a fresh token written after every change, by whichever process
  made it) tells a process when its copy is stale;
- a re-embedding fills a new collection and renames it into place; a reader that meets the moment
  between the two renames waits for it rather than "repairing" it, and a second re-embedding is
  refused while the first one's writer is alive (creating the new collection is atomic on the
  server; see :mod:`babelrag.stores.reembed`).

What stays per process, by design: the model pack and translation cache (``cache_dir``), the
ONNX build lock, and saved chat sessions (``home/sessions``: give the processes one shared home,
or keep a user on one process). Source names are the absolute paths of the ingesting machine:
re-ingest a folder from the same path, or it counts as new files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from babelrag.stores.errors import StoreError

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

TOKEN_HEADERS = {"authorization": ("Authorization", "Bearer "), "x-chroma-token": ("X-Chroma-Token", "")}


def open_chroma_server(
    url: str, *, token: str | None = None, token_header: str = "authorization"
) -> ClientAPI:
    """A client of the Chroma server at ``url`` (http://host:port), checked to answer and to speak
    the client's major version, with telemetry off."""
    import chromadb
    from chromadb.config import Settings

    parts = urlsplit(url)
    ssl = parts.scheme == "https"
    host = parts.hostname or "localhost"
    port = parts.port or (443 if ssl else 8000)
    headers = None
    if token:
        name, prefix = TOKEN_HEADERS[token_header]
        headers = {name: prefix + token}
    try:
        client = chromadb.HttpClient(
            host=host,
            port=port,
            ssl=ssl,
            headers=headers,
            settings=Settings(anonymized_telemetry=False),
        )
        server_version = client.get_version()
    except Exception as exc:  # the client raises ValueError, httpx and Chroma errors alike
        raise StoreError(
            f"cannot use the Chroma server at {url}: {_reason(exc)}",
            hint=f"{_start_hint(host, port)} (the chroma command installed with babelrag), or fix "
            "store.chroma_url / BABELRAG_STORE__CHROMA_URL"
            + (", and store.chroma_token" if _is_auth(exc) else ""),
        ) from exc
    client_version = chromadb.__version__
    if server_version.split(".")[0] != client_version.split(".")[0]:
        raise StoreError(
            f"the Chroma server at {url} is version {server_version}, babelrag's client {client_version}",
            hint=f"run a Chroma {client_version.split('.')[0]}.x server: "
            f"`chroma run --path DIR --port {port}` from babelrag's environment",
        )
    return client


def _start_hint(host: str, port: int) -> str:
    if host in ("localhost", "127.0.0.1", "::1"):
        return f"start it with `chroma run --path DIR --port {port}`"
    return f"start it on {host} with `chroma run --path DIR --host 0.0.0.0 --port {port}`"


def _reason(exc: BaseException) -> str:
    """The first meaningful line of what the client said (a wrong server answers with a web page)."""
    text = str(exc).strip()
    if text.startswith("<") or not text:
        return f"it does not answer as a Chroma server ({type(exc).__name__})"
    return text.splitlines()[0][:200]


def _is_auth(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(word in text for word in ("auth", "401", "403", "forbidden"))


def lost_server_error(exc: BaseException) -> StoreError | None:
    """The user-facing error for a Chroma server that stopped answering in the middle of a
    command (the HTTP client raises its own transport errors there), or None for anything else."""
    import sys

    httpx = sys.modules.get("httpx")  # only a server client brings it in
    if httpx is None or not isinstance(exc, httpx.TransportError):
        return None
    try:
        url = exc.request.url
        where = f"{url.scheme}://{url.host}:{url.port}" if url.port else f"{url.scheme}://{url.host}"
    except RuntimeError:  # an error raised without its request
        where = "the configured URL"
    return StoreError(
        f"lost the Chroma server at {where}: {_reason(exc)}",
        hint="check that `chroma run` is still running there, then run the command again",
    )
