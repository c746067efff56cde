"""Every endpoint of the HTTP API over fakes: shapes are the CLI's ``--json`` contracts."""

from __future__ import annotations

import io

import pytest

from babelrag.agents.service.app import create_app
from babelrag.agents.service.schemas import ROUTES, SSE_EVENTS
from tests.agents.service.conftest import TEA_ANSWER, make_service, sse_events

pytestmark = pytest.mark.unit

HIT_KEYS = {"id", "source", "title", "lang", "score", "text", "metadata"}


def test_the_app_serves_exactly_the_documented_routes(service) -> None:
    paths = create_app(service).openapi()["paths"]
    served = {(method.upper(), path) for path, ops in paths.items() for method in ops}
    assert served == {(m, p) for m, p, *_ in ROUTES}


def test_healthz_names_the_data_home_and_queue(client, service) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["home"] == str(service.settings.home.resolve())
    assert body["kb"] == "test" and body["auth"] is False
    assert body["queue"] == {"size": 8, "waiting": 0, "busy": False}


def test_openapi_docs_are_served(client) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/chat/completions" in paths and "/v1/kbs/{kb}/files" in paths


def test_search_returns_the_cli_hits(client, service) -> None:
    body = client.post("/v1/search", json={"query": "green tea water temperature", "k": 2}).json()
    assert body["kb"] == "test" and body["query"] == "green tea water temperature"
    retriever = service.runtime.cross_lingual_retriever(k=2, translate=False, group_documents=True)
    expected = [h.to_dict() for h in retriever.retrieve("green tea water temperature").hits]
    assert body["hits"] == expected
    assert set(body["hits"][0]) == HIT_KEYS and body["hits"][0]["title"] == "Brewing green tea"


def test_search_filters_by_language_and_ranks_chunks(client) -> None:
    body = client.post("/v1/search", json={"query": "Kette ölen", "lang": "de", "chunks": True}).json()
    assert body["hits"] and {h["lang"] for h in body["hits"]} == {"de"}


def test_ask_answers_with_sources_and_queue_time(client) -> None:
    body = client.post("/v1/ask", json={"question": "How hot should the water be for green tea?"}).json()
    assert body["answer"].startswith("Green tea tastes best") and body["no_answer"] is False
    assert body["kb"] == "test" and body["lang"] == "en"
    source = body["sources"][0]
    assert source["ref"] == 1 and "75 to 80 degrees" in source["text"] and set(source) >= HIT_KEYS
    assert "queue_s" in body["timings"] and "retrieve_s" in body["timings"]


@pytest.mark.parametrize("how", ["body", "accept"])
def test_ask_streams_server_sent_events(client, how: str) -> None:
    question = {"question": "How hot should the water be for green tea?"}
    if how == "body":
        response = client.post("/v1/ask", json={**question, "stream": True})
    else:
        response = client.post("/v1/ask", json=question, headers={"Accept": "text/event-stream"})
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(iter(response.text.splitlines()))
    names = [name for name, _ in events]
    assert names[:2] == ["queued", "start"] and names[-2:] == ["result", "done"]
    assert set(names) <= set(SSE_EVENTS)
    assert "".join(d["text"] for n, d in events if n == "token") == TEA_ANSWER
    result = events[-2][1]
    assert result["sources"][0]["ref"] == 1 and result["kb"] == "test"


def test_ask_with_decoding_overrides_and_unknown_language(client) -> None:
    ok = client.post(
        "/v1/ask", json={"question": "green tea?", "decoding": {"max_new_tokens": 16, "seed": 3}}
    )
    assert ok.status_code == 200
    bad = client.post("/v1/ask", json={"question": "green tea?", "lang": "klingonish"})
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"


def test_unknown_knowledge_base_is_404(client) -> None:
    for path, body in [
        ("/v1/search", {"query": "x", "kb": "nope"}),
        ("/v1/ask", {"question": "x", "kb": "nope"}),
    ]:
        response = client.post(path, json=body)
        assert response.status_code == 404, path
        assert response.json()["error"]["type"] == "not_found_error"
    assert client.get("/v1/kbs/nope").status_code == 404


def test_write_and_render_keep_only_accepted_additions(tmp_path) -> None:
    from fastapi.testclient import TestClient

    service = make_service(tmp_path, ["Boiling water makes green tea bitter because of tannins [1]."])
    with TestClient(create_app(service)) as client:
        draft = "I like green tea. It is often bitter."
        body = client.post("/v1/write", json={"draft": draft, "factor": 2.0}).json()
        assert body["kb"] == "test" and body["additions"] and not body["unchanged"]
        assert body["text"].startswith(draft) and "tannins" in body["text"]
        addition = body["additions"][0]
        assert addition["sources"][0]["title"] == "Brewing green tea"
        kept = client.post(
            "/v1/write/render", json={"draft": draft, "lang": "en", "additions": body["additions"]}
        )
        assert kept.json()["text"] == body["text"]
        rejected = [{**addition, "accepted": False}]
        text = client.post(
            "/v1/write/render", json={"draft": draft, "lang": "en", "additions": rejected}
        ).json()
        assert text["text"] == draft


def test_sessions_create_turn_read_update_delete(client) -> None:
    created = client.post("/v1/sessions", json={}).json()
    sid = created["id"]
    assert created["kb"] == "test" and created["turns"] == []
    turn = client.post(f"/v1/sessions/{sid}/turns", json={"message": "How hot for green tea?"}).json()
    assert turn["session_id"] == sid and turn["answer"].startswith("Green tea")
    session = client.get(f"/v1/sessions/{sid}").json()
    assert [t["role"] for t in session["turns"]] == ["user", "assistant"]
    assert session["turns"][1]["sources"][0]["ref"] == 1
    listed = client.get("/v1/sessions").json()
    assert (
        listed[0]["id"] == sid and listed[0]["turns"] == 1 and listed[0]["title"] == "How hot for green tea?"
    )
    assert client.patch(f"/v1/sessions/{sid}", json={"lang": "German"}).json()["lang"] == "de"
    assert client.get(f"/v1/sessions/{sid}").json()["lang"] == "de"
    assert client.delete(f"/v1/sessions/{sid}").status_code == 204
    assert client.get(f"/v1/sessions/{sid}").status_code == 404
    assert client.post(f"/v1/sessions/{sid}/turns", json={"message": "hi"}).status_code == 404


def test_a_streamed_turn_saves_the_session(client) -> None:
    sid = client.post("/v1/sessions", json={"lang": "en"}).json()["id"]
    response = client.post(f"/v1/sessions/{sid}/turns", json={"message": "green tea water?", "stream": True})
    events = sse_events(iter(response.text.splitlines()))
    assert events[-2][0] == "result" and events[-2][1]["session_id"] == sid
    assert len(client.get(f"/v1/sessions/{sid}").json()["turns"]) == 2


def test_knowledge_bases_list_info_upload_passage_drop(client, service) -> None:
    assert client.get("/v1/kbs").json() == {"test": 3}
    info = client.get("/v1/kbs/test").json()
    assert info["kb"] == "test" and info["chunks"] == 3 and set(info["languages"]) == {"en", "de", "zh"}
    text = "# Kaffee\n\nEspresso wird mit 9 bar Druck gebrüht.\n\n" + "Mehr Text über Kaffee. " * 200
    files = [("files", ("kaffee.md", io.BytesIO(text.encode()), "text/markdown"))]
    report = client.post("/v1/kbs/new/files", files=files).json()
    assert (
        report["kb"] == "new" and len(report["added"]) == 1 and report["files"] == ["uploads/new/kaffee.md"]
    )
    assert (service.settings.home / "uploads" / "new" / "kaffee.md").read_text(encoding="utf-8") == text
    again = client.post("/v1/kbs/new/files", files=files).json()
    assert len(again["unchanged"]) == 1 and again["chunks_embedded"] == 0
    hits = client.post("/v1/search", json={"query": "Espresso Druck", "kb": "new", "chunks": True}).json()[
        "hits"
    ]
    first = next(h for h in hits if h["metadata"]["chunk"] == 0)
    passage = client.get(f"/v1/kbs/new/passages/{first['id']}").json()
    assert passage["id"] == first["id"] and passage["text"] == first["text"]
    assert passage["before"] is None and passage["after"]
    assert client.get("/v1/kbs/new/passages/deadbeef").status_code == 404
    assert client.delete("/v1/kbs/new").json() == {"kb": "new", "dropped": True}
    assert "new" not in client.get("/v1/kbs").json()
    assert not (service.settings.home / "uploads" / "new").exists()


def test_models_list_one_per_knowledge_base(client) -> None:
    body = client.get("/v1/models").json()
    assert body["object"] == "list" and [m["id"] for m in body["data"]] == ["babelrag:test"]
