"""``babelrag search`` uses a running local service for its data directory, and prints the same."""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

from babelrag.agents.cli import app
from babelrag.agents.service.app import create_app
from babelrag.stores.fakes import KeywordEmbeddings
from tests.agents.service.conftest import free_port, live_server, make_service

pytestmark = pytest.mark.unit


@pytest.fixture
def in_process(monkeypatch) -> list[int]:
    """The CLI's own runtime gets the keyword embedder; counts how often it was asked for it."""
    loads: list[int] = []
    embedder = KeywordEmbeddings(dimension=128)

    def fake(self):
        if self.settings.home.name == "home" and "embedder" not in self.__dict__:
            loads.append(1)
            self.__dict__["embedder"] = embedder
        return self.__dict__.get("embedder", embedder)

    monkeypatch.setattr("babelrag.agents.runtime.Runtime.embedder", property(fake))
    return loads


@pytest.fixture
def served(tmp_path, monkeypatch, in_process):
    service = make_service(tmp_path, api_key="k")
    calls: list[dict] = []
    original = service.search
    monkeypatch.setattr(service, "search", lambda body: calls.append(body) or original(body))
    with live_server(create_app(service)) as url:
        monkeypatch.setenv("BABELRAG_SERVICE__PORT", url.rsplit(":", 1)[1])
        monkeypatch.setenv("BABELRAG_SERVICE__API_KEY", "k")
        in_process.clear()
        yield service, calls


def _search(home, *args: str):
    result = CliRunner().invoke(app, ["--home", str(home), "-q", "search", *args, "--kb", "test"])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize(
    "args", [("green tea water", "--json"), ("Kette", "-k", "2", "--lang", "de", "--chunks")]
)
def test_search_through_the_service_prints_what_in_process_prints(served, in_process, args) -> None:
    service, calls = served
    home = service.settings.home
    through_service = _search(home, *args)
    assert len(calls) == 1 and in_process == [], "the service answered, no model was loaded here"
    assert through_service.strip()
    local = _search(home, *args, "--no-service")
    assert len(calls) == 1 and in_process == [1]
    assert through_service == local


def test_a_service_over_another_home_is_not_used(served, in_process, tmp_path) -> None:
    _, calls = served
    other = make_service(tmp_path / "other").settings.home  # the same KB files, another data home
    in_process.clear()
    _search(other, "green tea")
    assert calls == []


def test_the_setting_turns_it_off(served, in_process, monkeypatch) -> None:
    service, calls = served
    monkeypatch.setenv("BABELRAG_SERVICE__USE_FROM_CLI", "false")
    _search(service.settings.home, "green tea")
    assert calls == [] and in_process == [1]


def test_a_wrong_key_falls_back_to_in_process(served, in_process, monkeypatch) -> None:
    service, calls = served
    monkeypatch.setenv("BABELRAG_SERVICE__API_KEY", "wrong")
    _search(service.settings.home, "green tea")
    assert calls == [] and in_process == [1]


def test_nothing_listening_costs_almost_nothing(tmp_path, in_process, monkeypatch) -> None:
    home = make_service(tmp_path).settings.home
    monkeypatch.setenv("BABELRAG_SERVICE__PORT", str(free_port()))
    from babelrag.agents.config import load_settings
    from babelrag.agents.service.client import call_service

    settings = load_settings(home=home)
    started = time.perf_counter()
    assert call_service(settings, "/v1/search", {"query": "x"}) is None
    assert time.perf_counter() - started < 0.5
    assert "1." in _search(home, "green tea")


@pytest.fixture
def fake_generator(monkeypatch):
    """One scripted generator for the CLI's own runtime and the service's."""
    from tests.agents.service.conftest import TEA_ANSWER
    from tests.chat_fakes import FakeLLM

    llm = FakeLLM(responses=[TEA_ANSWER], seen=[])
    monkeypatch.setattr("babelrag.agents.runtime.Runtime.llm", property(lambda self: llm))
    monkeypatch.setenv("BABELRAG_ANSWER__MIN_SUPPORT", "0")  # as the served settings
    return llm


def _ask(home, *args: str) -> str:
    result = CliRunner().invoke(
        app, ["--home", str(home), "-q", "ask", *args, "--kb", "test", "--no-translate"]
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def test_ask_through_the_service_prints_what_in_process_prints(served, in_process, fake_generator) -> None:
    import json

    service, _ = served
    home = service.settings.home
    remote = json.loads(_ask(home, "How hot for green tea?", "--json"))
    assert in_process == [] and len(fake_generator.seen) == 1
    local = json.loads(_ask(home, "How hot for green tea?", "--json", "--no-service"))
    assert in_process == [1] and len(fake_generator.seen) == 2
    assert remote.pop("timings").keys() == local.pop("timings").keys()
    assert remote == local and remote["sources"][0]["ref"] == 1
    assert _ask(home, "How hot for green tea?") == _ask(home, "How hot for green tea?", "--no-service")


def test_a_streamed_ask_through_the_service(served, in_process, fake_generator) -> None:
    from tests.agents.service.conftest import TEA_ANSWER

    service, _ = served
    text = _ask(service.settings.home, "How hot for green tea?", "--stream")
    assert in_process == [] and text.startswith(TEA_ANSWER)
    assert "Brewing green tea" in text
