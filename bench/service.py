"""``babelrag serve`` under load: N concurrent clients on loopback, searching and asking.

A real server process (``babelrag serve`` on a free loopback port, the default models, the sample
KB) and client threads with an HTTP connection each. Searches run on the server's thread pool,
answers wait for the one generator in its queue, so the figures that matter are search latency
under concurrency (and while the generator is busy) and, for answers, throughput and the time each
one waited in the queue. Every baseline is the same requests from one client. Bounded: a fixed
number of requests per client and a deadline per phase; nothing leaves the machine.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import SAMPLE_KB, Table, fmt, latency_summary, percentile, sample_questions

TITLE = "8. `babelrag serve` under load (loopback; concurrent clients)"
#: Answers are capped so a phase stays short; the generator's speed is section 5's subject.
ASK_TOKENS = 64


def run(quick: bool) -> dict[str, Any]:
    plan = {
        "search_clients": 4 if quick else 8,
        "searches_per_client": 6 if quick else 20,
        "ask_clients": 2 if quick else 4,
        "asks_per_client": 1 if quick else 2,
        "phase_deadline_s": 180 if quick else 600,
    }
    questions = [q["question"] for q in sample_questions(range(1, 15))]
    with tempfile.TemporaryDirectory() as tmp, _server(Path(tmp)) as base:
        import httpx

        with httpx.Client(base_url=base, timeout=300, trust_env=False) as warm:  # load caches, not counted
            warm.post("/v1/search", json={"query": questions[0], "kb": "sample"}).raise_for_status()
            warm.post("/v1/ask", json=_ask(questions[0])).raise_for_status()
        search = lambda n: _phase(base, n, plan["searches_per_client"], questions, _search_call, plan)  # noqa: E731
        ask = lambda n: _phase(base, n, plan["asks_per_client"], questions, _ask_call, plan)  # noqa: E731
        results = {
            "search_1": search(1),
            "search_n": search(plan["search_clients"]),
            "ask_1": ask(1),
        }
        # answers from N clients, with two clients searching beside them the whole time
        stop = threading.Event()
        beside: list[dict[str, Any]] = []
        searcher = threading.Thread(
            target=lambda: beside.append(
                _phase(base, 2, 10_000, questions, _search_call, plan, stop=stop, pause_s=1.0)
            )
        )
        searcher.start()
        results["ask_n"] = ask(plan["ask_clients"])
        stop.set()
        searcher.join()
        results["search_during_asks"] = beside[0]
    return {"plan": plan, "ask_tokens": ASK_TOKENS, **results}


def _ask(question: str) -> dict[str, Any]:
    return {"question": question, "kb": "sample", "decoding": {"max_new_tokens": ASK_TOKENS}}


def _search_call(client: Any, question: str) -> dict[str, Any]:
    response = client.post("/v1/search", json={"query": question, "kb": "sample", "k": 5})
    response.raise_for_status()
    return {}


def _ask_call(client: Any, question: str) -> dict[str, Any]:
    response = client.post("/v1/ask", json=_ask(question))
    response.raise_for_status()
    return {"queue_s": response.json()["timings"].get("queue_s", 0.0)}


def _phase(
    base: str,
    clients: int,
    per_client: int,
    questions: list[str],
    call: Callable[[Any, str], dict[str, Any]],
    plan: dict[str, Any],
    *,
    stop: threading.Event | None = None,
    pause_s: float = 0.0,
) -> dict[str, Any]:
    """``clients`` threads, each with its own connection, each making up to ``per_client`` calls."""
    import httpx

    latencies: list[float] = []
    queue_waits: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + plan["phase_deadline_s"]

    def client_loop(index: int) -> None:
        with httpx.Client(base_url=base, timeout=300, trust_env=False) as client:
            for n in range(per_client):
                if time.perf_counter() > deadline or (stop is not None and stop.is_set()):
                    return
                question = questions[(index * 7 + n) % len(questions)]
                started = time.perf_counter()
                try:
                    extra = call(client, question)
                except Exception as exc:  # counted, never fatal: errors are a result here
                    with lock:
                        errors.append(f"{type(exc).__name__}: {str(exc)[:120]}")
                    continue
                with lock:
                    latencies.append(time.perf_counter() - started)
                    if "queue_s" in extra:
                        queue_waits.append(extra["queue_s"])
                if pause_s:
                    time.sleep(pause_s)

    started = time.perf_counter()
    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": len(errors),
        "error_samples": errors[:3],
        "wall_s": wall,
        "per_s": len(latencies) / wall if wall else 0.0,
        "latency": latency_summary(latencies) if latencies else {},
        "queue_s": {"p50_s": percentile(queue_waits, 50), "max_s": max(queue_waits)} if queue_waits else {},
    }


class _server:
    """``babelrag serve`` on a free loopback port over a fresh home with the sample KB."""

    def __init__(self, root: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.env = {
            **os.environ,
            "BABELRAG_HOME": str(root / "home"),
            "BABELRAG_SERVICE__PORT": str(self.port),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> str:
        import httpx

        cli = [sys.executable, "-m", "babelrag.agents.cli", "--quiet"]
        subprocess.run(
            [*cli, "ingest", str(SAMPLE_KB), "--kb", "sample"], env=self.env, check=True, capture_output=True
        )
        self.proc = subprocess.Popen(
            [*cli, "serve", "--kb", "sample"], env=self.env, stderr=subprocess.DEVNULL
        )
        base = f"http://127.0.0.1:{self.port}"
        deadline = time.perf_counter() + 300
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"babelrag serve exited with status {self.proc.returncode}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1, trust_env=False).status_code == 200:
                    return base
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError("babelrag serve did not answer /healthz within 300 s")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def table(r: dict[str, Any]) -> Table:
    def row(label: str, phase: dict[str, Any], *, asks: bool) -> list[str]:
        lat, queue = phase.get("latency") or {}, phase.get("queue_s") or {}
        rate = phase["per_s"] * 60 if asks else phase["per_s"]
        return [
            label,
            str(phase["clients"]),
            str(phase["requests"]),
            str(phase["errors"]),
            fmt(lat.get("p50_ms"), 0),
            fmt(lat.get("p95_ms"), 0),
            f"{fmt(rate, 1)}/{'min' if asks else 's'}",
            f"{fmt(queue.get('p50_s'), 1)} / {fmt(queue.get('max_s'), 1)}" if queue else "—",
        ]

    p = r["plan"]
    rows = [
        row("search, one client (baseline)", r["search_1"], asks=False),
        row("search, concurrent clients", r["search_n"], asks=False),
        row("search while answers are generated", r["search_during_asks"], asks=False),
        row("ask, one client (baseline)", r["ask_1"], asks=True),
        row("ask, concurrent clients", r["ask_n"], asks=True),
    ]
    return Table(
        TITLE,
        ["load", "clients", "requests", "errors", "p50 ms", "p95 ms", "throughput", "queue wait p50 / max s"],
        rows,
        [
            f"`babelrag serve --kb sample` (default models) in its own process; each client thread has its "
            f"own connection and sends the 14 sample questions in turn: {p['searches_per_client']} searches "
            f"(k=5) or {p['asks_per_client']} answers ({r['ask_tokens']} new tokens at most) per client; "
            f"phases end after {p['phase_deadline_s']} s. Latency is the whole HTTP round trip.",
            "Answers share one generator (a bounded queue), so their throughput cannot exceed one "
            "client's; what concurrency adds is queue wait. Searches run beside it on the thread pool: "
            "during the concurrent answers two more clients search, one request a second each.",
        ],
    )
