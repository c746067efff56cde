"""Concurrency over real connections (uvicorn on loopback): the bounded queue, searches beside a
generation, cancellation when the client leaves, timeouts, and concurrent turns on one session."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from babelrag.agents.service.app import create_app
from tests.agents.service.conftest import live_server, make_service, wait_until

pytestmark = pytest.mark.unit

#: 400 characters streamed one a time at 20 ms: 8 s unless cancelled.
SLOW_REPLY = "Green tea tastes best with water at 75 to 80 degrees Celsius [1]. " * 6
SLOW = 0.02


def _stream_until_stopped(base: str, path: str, body: dict, stop: threading.Event) -> None:
    # a client per thread: httpx's pool does not share a streaming connection across threads
    with (
        httpx.Client(base_url=base, timeout=30) as client,
        client.stream("POST", path, json=body) as response,
    ):
        for _ in response.iter_lines():
            if stop.is_set():
                return


def test_a_full_queue_answers_503_with_retry_after(tmp_path) -> None:
    service = make_service(tmp_path, [SLOW_REPLY], sleep=SLOW, queue_size=1)
    stop = threading.Event()
    with live_server(create_app(service)) as url, httpx.Client(base_url=url, timeout=30) as client:
        streams = [
            threading.Thread(
                target=_stream_until_stopped, args=(url, "/v1/ask", {"question": q, "stream": True}, stop)
            )
            for q in ("green tea?", "tea water?")
        ]
        for t in streams:
            t.start()
            time.sleep(0.2)
        assert wait_until(lambda: service.queue.busy and service.queue.waiting == 1)
        response = client.post("/v1/ask", json={"question": "one more?"})
        assert response.status_code == 503
        assert response.headers["retry-after"] == "2"
        assert response.json()["error"]["type"] == "overloaded_error"
        # searches do not wait for the generator
        started = time.perf_counter()
        assert client.post("/v1/search", json={"query": "green tea"}).status_code == 200
        assert time.perf_counter() - started < 2.0
        assert client.get("/healthz").json()["queue"] == {"size": 1, "waiting": 1, "busy": True}
        stop.set()
        for t in streams:
            t.join(15)
        assert wait_until(lambda: not service.queue.busy and service.queue.waiting == 0, 5)


def test_a_client_that_disconnects_cancels_its_stream(tmp_path) -> None:
    service = make_service(tmp_path, [SLOW_REPLY], sleep=SLOW)
    llm = service.runtime.llm
    with live_server(create_app(service)) as url, httpx.Client(base_url=url, timeout=30) as client:
        sid = client.post("/v1/sessions", json={}).json()["id"]
        started = time.perf_counter()
        with client.stream(
            "POST", f"/v1/sessions/{sid}/turns", json={"message": "tea?", "stream": True}
        ) as r:
            for line in r.iter_lines():
                if line.startswith("event: token"):
                    break
        # the stream is closed: generation stops within a few tokens, not after the whole reply
        assert wait_until(lambda: not service.queue.busy, 3)
        assert time.perf_counter() - started < 4, "the generator ran on after the client left"
        assert client.get(f"/v1/sessions/{sid}").json()["turns"] == [], "a cancelled turn saves nothing"
        # the generator is free for the next request
        assert len(llm.seen) == 1
        llm.sleep = None
        assert client.post("/v1/ask", json={"question": "green tea?"}).status_code == 200


def test_a_client_that_gives_up_on_a_json_answer_cancels_it(tmp_path) -> None:
    service = make_service(tmp_path, [SLOW_REPLY], sleep=SLOW)
    with live_server(create_app(service)) as url:
        started = time.perf_counter()
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{url}/v1/ask", json={"question": "green tea?"}, timeout=0.5)
        assert wait_until(lambda: not service.queue.busy, 3)
        assert time.perf_counter() - started < 4


def test_requests_time_out_with_504_and_stop_the_generator(tmp_path) -> None:
    service = make_service(tmp_path, [SLOW_REPLY], sleep=SLOW, request_timeout_s=0.5)
    with live_server(create_app(service)) as url, httpx.Client(base_url=url, timeout=30) as client:
        response = client.post("/v1/ask", json={"question": "green tea?"})
        assert response.status_code == 504
        assert response.json()["error"]["type"] == "timeout_error"
        assert wait_until(lambda: not service.queue.busy, 3)
        streamed = client.post("/v1/ask", json={"question": "green tea?", "stream": True}).text
        assert (
            "event: error" in streamed
            and "timeout_error" in streamed
            and streamed.endswith("event: done\ndata: {}\n\n")
        )


def test_concurrent_turns_on_one_session_lose_nothing(tmp_path) -> None:
    service = make_service(tmp_path, ["Green tea tastes best at 75 to 80 degrees [1]."], sleep=0.001)
    messages = [f"Question number {n} about green tea?" for n in range(6)]
    with live_server(create_app(service)) as url, httpx.Client(base_url=url, timeout=60) as client:
        sid = client.post("/v1/sessions", json={"lang": "en"}).json()["id"]

        def turn(message: str) -> int:
            return client.post(f"/v1/sessions/{sid}/turns", json={"message": message}).status_code

        with ThreadPoolExecutor(len(messages)) as pool:
            assert list(pool.map(turn, messages)) == [200] * len(messages)
        session = client.get(f"/v1/sessions/{sid}").json()
    assert [t["role"] for t in session["turns"]] == ["user", "assistant"] * len(messages)
    assert sorted(t["content"] for t in session["turns"] if t["role"] == "user") == sorted(messages)


def test_concurrent_searches_all_succeed(tmp_path) -> None:
    service = make_service(tmp_path)
    queries = ["green tea", "Fahrradkette", "撤销提交", "tannins", "Kilometer", "git revert"] * 4
    with (
        live_server(create_app(service)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
        ThreadPoolExecutor(8) as pool,
    ):
        responses = list(pool.map(lambda q: client.post("/v1/search", json={"query": q, "k": 2}), queries))
    assert all(r.status_code == 200 and r.json()["hits"] for r in responses)


def test_thread_pool_work_has_the_deadline_too(tmp_path, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    service = make_service(tmp_path, request_timeout_s=0.3)
    search = service.search
    monkeypatch.setattr(service, "search", lambda body: time.sleep(1.0) or search(body))
    with TestClient(create_app(service)) as client:
        response = client.post("/v1/search", json={"query": "green tea"})
        assert response.status_code == 504 and response.json()["error"]["type"] == "timeout_error"
        assert client.get("/v1/kbs").status_code == 200
