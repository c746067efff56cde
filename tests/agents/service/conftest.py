"""A service over a small real store with the keyword embedder and a scripted generator, and a live
uvicorn server on a free loopback port for the tests that need real connections."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from babelrag.agents.config import load_settings
from babelrag.agents.runtime import Runtime
from babelrag.agents.service.app import create_app
from babelrag.agents.service.backend import Service
from babelrag.stores.fakes import KeywordEmbeddings
from tests.chat_fakes import FakeLLM
from tests.store_cases import write_kb

TEA_ANSWER = "Green tea tastes best with water at 75 to 80 degrees Celsius [1]."


def make_service(
    tmp_path: Path,
    replies: list[str] | None = None,
    *,
    sleep: float | None = None,
    ingest: bool = True,
    **service: Any,
) -> Service:
    """A service on knowledge base ``test`` (tea.md, bike.md, git.txt) with fakes for both models."""
    settings = load_settings(
        home=tmp_path / "home",
        kb="test",
        retrieval={"translate": False},
        answer={"min_support": 0.0},
        service=service or None,
    )
    rt = Runtime(settings)
    rt.__dict__["embedder"] = KeywordEmbeddings(dimension=128)
    rt.__dict__["llm"] = FakeLLM(responses=replies or [TEA_ANSWER], sleep=sleep, seen=[])
    if ingest:
        report = rt.ingestor().ingest([write_kb(tmp_path)])
        assert not report.failed
    return Service(rt)


@pytest.fixture
def service(tmp_path: Path) -> Service:
    return make_service(tmp_path)


@pytest.fixture
def client(service: Service):
    from fastapi.testclient import TestClient

    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        yield client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port, in a thread; yields the base URL."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(10)


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def sse_events(lines: Iterator[str]) -> list[tuple[str, Any]]:
    """``(event, data)`` pairs of a Server-Sent Events body (data parsed as JSON)."""
    import json

    events, name, data = [], "message", []
    for line in lines:
        if line == "":
            if data:
                events.append((name, json.loads("\n".join(data))))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
    return events
