"""The service over the real packaged models and the sample knowledge base, on a real socket."""

from __future__ import annotations

import httpx
import pytest

from babelrag.agents.service.app import create_app
from babelrag.agents.service.backend import Service
from tests.agents.service.conftest import live_server, sse_events

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(sample_runtime):
    """``babelrag serve`` as the CLI builds it, on the session's loaded models (uvicorn, loopback)."""
    service = Service(sample_runtime)
    with live_server(create_app(service)) as url:
        yield url, service


def test_a_chinese_question_finds_the_english_tea_passage(server) -> None:
    url, _ = server
    body = httpx.post(
        f"{url}/v1/search", json={"query": "绿茶应该用多少度的水冲泡？", "k": 3}, timeout=60
    ).json()
    assert body["kb"] == "sample"
    assert any("green-tea-brewing" in h["source"] and h["lang"] == "en" for h in body["hits"])


def test_health_reports_the_real_models(server) -> None:
    url, service = server
    health = httpx.get(f"{url}/healthz").json()
    assert health["home"] == str(service.settings.home.resolve())
    assert health["embedder"] == "babelrag/multilingual-e5-small"


@pytest.mark.slow
def test_a_streamed_answer_in_chinese_cites_the_english_passage(server) -> None:
    url, _ = server
    with httpx.stream(
        "POST",
        f"{url}/v1/ask",
        json={"question": "在巴塞尔的莱茵河里游泳时，衣服和手机放在哪里？"},
        headers={"Accept": "text/event-stream"},
        timeout=300,
    ) as response:
        events = sse_events(response.iter_lines())
    names = [n for n, _ in events]
    assert names[0] == "queued" and names[-2:] == ["result", "done"] and names.count("token") > 3
    result = events[-2][1]
    assert result["lang"] == "zh" and not result["no_answer"], result
    # the passage's fact: a fish-shaped waterproof bag (the 0.5B names it, or describes it)
    assert any(t in result["answer"].casefold() for t in ("wickelfisch", "waterproof", "防水", "鱼")), result
    assert any(s["source"].endswith("faq.jsonl") and s["lang"] == "en" for s in result["sources"]), result


@pytest.mark.slow
def test_the_openai_sdk_streams_an_answer(server) -> None:
    openai = pytest.importorskip("openai")
    url, _ = server
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=300)
    stream = client.chat.completions.create(
        model="babelrag:sample",
        messages=[{"role": "user", "content": "Wie hoch sind die Türme des Kölner Doms?"}],
        max_tokens=96,
        stream=True,
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "157" in text
