"""``/v1/chat/completions`` with the real OpenAI Python SDK against the app on loopback."""

from __future__ import annotations

import pytest

from babelrag.agents.service.app import create_app
from tests.agents.service.conftest import TEA_ANSWER, live_server, make_service

pytestmark = pytest.mark.unit

openai = pytest.importorskip("openai")


@pytest.fixture
def sdk(tmp_path):
    service = make_service(tmp_path, api_key="k")
    with live_server(create_app(service)) as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0), service


def test_models_are_the_knowledge_bases(sdk) -> None:
    client, _ = sdk
    assert [m.id for m in client.models.list()] == ["babelrag:test"]


def test_a_completion_answers_with_citations(sdk) -> None:
    client, _ = sdk
    completion = client.chat.completions.create(
        model="babelrag:test",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "How hot should the water be for green tea?"},
        ],
    )
    content = completion.choices[0].message.content
    assert content.startswith("Green tea tastes best") and "\n\nSources:\n[1] Brewing green tea — " in content
    assert completion.choices[0].finish_reason == "stop" and completion.object == "chat.completion"
    extra = completion.model_extra["babelrag"]
    assert extra["kb"] == "test" and extra["sources"][0]["text"].startswith("Brewing green tea")


def test_a_streamed_completion(sdk) -> None:
    client, _ = sdk
    stream = client.chat.completions.create(
        model="test", messages=[{"role": "user", "content": "How hot for green tea?"}], stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith(TEA_ANSWER) and "Sources:\n[1] Brewing green tea" in text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["babelrag"]["answer"].startswith("Green tea")


def test_history_makes_a_follow_up(sdk) -> None:
    client, service = sdk
    llm = service.runtime.llm
    llm.responses = ["How hot should water for green tea be?", TEA_ANSWER]
    client.chat.completions.create(
        model="babelrag:test",
        messages=[
            {"role": "user", "content": "Tell me about green tea."},
            {"role": "assistant", "content": "It is a tea."},
            {"role": "user", "content": [{"type": "text", "text": "And how hot?"}]},
        ],
    )
    condense_prompt = str(llm.seen[0])
    assert "Tell me about green tea." in condense_prompt and "And how hot?" in condense_prompt


def test_errors_reach_the_sdk_as_its_exceptions(sdk) -> None:
    client, _ = sdk
    with pytest.raises(openai.NotFoundError) as exc:
        client.chat.completions.create(model="babelrag:nope", messages=[{"role": "user", "content": "x"}])
    assert "does not exist" in str(exc.value)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="test", messages=[{"role": "assistant", "content": "x"}])
    bad = openai.OpenAI(base_url=client.base_url, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_sampling_options_are_passed_to_the_generator(sdk, monkeypatch) -> None:
    client, service = sdk
    llm_class = type(service.runtime.llm)
    original, decodings = llm_class.stream, []

    def spy(self, messages, config=None, **kwargs):
        decodings.append(kwargs.get("decoding"))
        yield from original(self, messages, config, **kwargs)

    monkeypatch.setattr(llm_class, "stream", spy)
    client.chat.completions.create(
        model="test",
        messages=[{"role": "user", "content": "green tea?"}],
        temperature=0.5,
        max_tokens=20,
        seed=7,
        stop=["\n\n"],
    )
    (decoding,) = decodings
    assert (decoding.strategy, decoding.temperature, decoding.max_new_tokens) == ("sample", 0.5, 20)
    assert decoding.seed == 7 and decoding.stop == ("\n\n",)
