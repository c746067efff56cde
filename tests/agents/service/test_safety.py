"""Safe by default: loopback bind, API keys, uploads confined to the data directory, JSON errors."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from babelrag.agents.service.app import create_app
from babelrag.agents.service.security import check_bind, is_loopback, key_matches
from babelrag.agents.service.uploads import safe_filename
from babelrag.stores.errors import ConfigError
from tests.agents.service.conftest import make_service

pytestmark = pytest.mark.unit


def _upload(client, name: str, data: bytes = b"# Notes\n\nSome text about tea.\n", kb: str = "test"):
    return client.post(f"/v1/kbs/{kb}/files", files=[("files", (name, io.BytesIO(data), "text/plain"))])


def _files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


class TestBind:
    @pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.5"])
    def test_loopback_needs_no_key(self, host: str) -> None:
        assert is_loopback(host)
        check_bind(host, None)

    @pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.4", "example.org"])
    def test_a_wider_bind_needs_a_key(self, host: str) -> None:
        with pytest.raises(ConfigError, match="needs an API key"):
            check_bind(host, None)
        check_bind(host, "s3cret")

    def test_serve_refuses_a_public_bind_without_key_before_loading_anything(
        self, tmp_path, monkeypatch
    ) -> None:
        from typer.testing import CliRunner

        from babelrag.agents.cli import app

        monkeypatch.setattr("babelrag.agents.runtime.Runtime.embedder", property(lambda self: 1 / 0))
        result = CliRunner().invoke(app, ["--home", str(tmp_path), "serve", "--host", "0.0.0.0"])
        assert result.exit_code != 0 and isinstance(result.exception, ConfigError)
        assert "needs an API key" in result.exception.message

    def test_the_key_comes_from_babelrag_api_key(self, tmp_path, monkeypatch) -> None:
        """With the key from the environment, serve gets past the bind check (to the model load)."""
        from typer.testing import CliRunner

        from babelrag.agents.cli import app

        monkeypatch.setenv("BABELRAG_API_KEY", "from-env")

        class Loaded(Exception):
            pass

        def boom(self):
            raise Loaded

        monkeypatch.setattr("babelrag.agents.service.backend.Service.warm_up", boom)
        result = CliRunner().invoke(app, ["--home", str(tmp_path), "-q", "serve", "--host", "0.0.0.0"])
        assert isinstance(result.exception, Loaded)


class TestApiKey:
    @pytest.fixture
    def client(self, tmp_path):
        service = make_service(tmp_path, api_key="s3cret")
        with TestClient(create_app(service)) as client:
            yield client

    def test_requests_without_or_with_a_wrong_key_are_refused(self, client) -> None:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"X-API-Key": "s3cre"},
            {"Authorization": "s3cret"},
        ):
            response = client.get("/v1/kbs", headers=headers)
            assert response.status_code == 401, headers
            assert response.json()["error"]["type"] == "authentication_error"
            assert response.headers["www-authenticate"] == "Bearer"

    def test_bearer_and_x_api_key_are_accepted(self, client) -> None:
        assert client.get("/v1/kbs", headers={"Authorization": "Bearer s3cret"}).json() == {"test": 3}
        assert client.get("/v1/kbs", headers={"X-API-Key": "s3cret"}).status_code == 200
        search = client.post("/v1/search", json={"query": "tea"}, headers={"X-API-Key": "s3cret"})
        assert search.status_code == 200

    def test_health_and_docs_stay_open_and_say_a_key_is_needed(self, client) -> None:
        assert client.get("/healthz").json()["auth"] is True
        assert client.get("/docs").status_code == 200

    def test_keys_are_compared_whole(self) -> None:
        assert key_matches("abc", "abc") and not key_matches("ab", "abc") and not key_matches(None, "abc")
        assert key_matches("ключ", "ключ")


class TestUploads:
    @pytest.mark.parametrize(
        "name", ["../../evil.md", "/etc/evil.md", "..\\..\\evil.md", "sub/dir/evil.md", "C:\\tmp\\evil.md"]
    )
    def test_directory_parts_are_dropped_and_the_file_stays_inside(
        self, client, service, tmp_path, name
    ) -> None:
        response = _upload(client, name)
        assert response.status_code == 200, response.text
        assert response.json()["files"] == ["uploads/test/evil.md"]
        home = service.settings.home
        assert (home / "uploads" / "test" / "evil.md").is_file()
        outside = {p.name for p in tmp_path.rglob("evil.md")} - {"evil.md"}
        assert not outside and not (tmp_path / "evil.md").exists() and not Path("/etc/evil.md").exists()

    @pytest.mark.parametrize("name", ["..", ".", ".hidden.md", ""])
    def test_bad_names_are_refused(self, client, service, name) -> None:
        response = _upload(client, name)
        assert response.status_code in (400, 422), name
        assert response.json()["error"]["type"] == "invalid_request_error"
        assert not (service.settings.home / "uploads").exists()

    @pytest.mark.parametrize("name", ["run.sh", "archive.tar.gz", "noext", "x.md.exe"])
    def test_only_the_loaders_suffixes_are_accepted(self, client, service, name) -> None:
        response = _upload(client, name)
        assert response.status_code == 415 and response.json()["error"]["type"] == "unsupported_file_type"
        assert not (service.settings.home / "uploads").exists()

    def test_an_oversize_upload_is_refused_and_leaves_nothing(self, tmp_path) -> None:
        service = make_service(tmp_path, upload_max_mb=0.01)
        with TestClient(create_app(service)) as client:
            response = _upload(client, "big.md", b"# Big\n\n" + b"tea " * 4000)
            assert response.status_code == 413 and response.json()["error"]["type"] == "request_too_large"
            assert _files_under(service.settings.home / "uploads") == set()
            assert _upload(client, "small.md").status_code == 200

    def test_a_batch_with_one_bad_name_writes_nothing(self, client, service) -> None:
        files = [
            ("files", ("good.md", io.BytesIO(b"# ok\n\nfine"), "text/markdown")),
            ("files", ("bad.exe", io.BytesIO(b"MZ"), "application/octet-stream")),
        ]
        assert client.post("/v1/kbs/test/files", files=files).status_code == 415
        assert not (service.settings.home / "uploads").exists()

    def test_an_invalid_kb_name_is_refused(self, client) -> None:
        assert _upload(client, "a.md", kb="..").status_code in (400, 404)
        response = _upload(client, "a.md", kb="bad name!")
        assert response.status_code == 400 and "knowledge base name" in response.json()["error"]["message"]

    @pytest.mark.parametrize("name", ["a\x00b.md", "x\n.md", "x\u202e.md", "a" * 300 + ".md", None])
    def test_control_characters_and_long_names_are_refused(self, name) -> None:
        # clients escape these in multipart headers, so the rule is checked directly
        with pytest.raises(ConfigError):
            safe_filename(name)

    def test_unicode_names_are_kept(self) -> None:
        assert safe_filename("绿茶笔记.md") == "绿茶笔记.md"
        assert safe_filename("Tee\u0301.MD") == "Teé.MD"


class TestErrors:
    def test_a_forced_internal_error_is_json_without_traceback(self, tmp_path, monkeypatch) -> None:
        service = make_service(tmp_path)

        def explode(body):
            raise RuntimeError("secret path /home/me/.ssh in a traceback")

        monkeypatch.setattr(service, "search", explode)
        with TestClient(create_app(service), raise_server_exceptions=False) as client:
            response = client.post("/v1/search", json={"query": "tea"})
        assert response.status_code == 500
        body = response.json()
        assert body["error"]["type"] == "internal_error"
        assert "secret" not in response.text and "Traceback" not in response.text

    def test_an_error_inside_a_stream_is_an_error_event(self, tmp_path, monkeypatch) -> None:
        from tests.agents.service.conftest import sse_events

        service = make_service(tmp_path)
        monkeypatch.setattr(service.runtime.llm, "responses", [])  # the fake fails with IndexError
        with TestClient(create_app(service), raise_server_exceptions=False) as client:
            response = client.post("/v1/ask", json={"question": "green tea?", "stream": True})
        events = sse_events(iter(response.text.splitlines()))
        assert [n for n, _ in events][-2:] == ["error", "done"]
        assert events[-2][1]["error"]["type"] == "internal_error"

    @pytest.mark.parametrize(
        ("method", "path", "body", "status"),
        [
            ("get", "/nowhere", None, 404),
            ("put", "/v1/search", None, 405),
            ("post", "/v1/search", {"query": ""}, 422),
            ("post", "/v1/search", {"query": "x", "k": 0}, 422),
            ("post", "/v1/search", {"quer": "x"}, 422),
            ("post", "/v1/ask", {"question": "x", "unknown": 1}, 422),
        ],
    )
    def test_client_errors_are_json(self, client, method, path, body, status) -> None:
        response = client.request(method, path, json=body)
        assert response.status_code == status
        error = response.json()["error"]
        assert error["message"] and error["type"] in ("not_found_error", "invalid_request_error")

    def test_invalid_json_is_a_json_error(self, client) -> None:
        response = client.post(
            "/v1/search", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422 and response.json()["error"]["type"] == "invalid_request_error"


class TestCors:
    def test_off_by_default(self, client) -> None:
        response = client.options(
            "/v1/search", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in response.headers

    def test_allowed_origins_when_configured(self, tmp_path) -> None:
        service = make_service(tmp_path, cors_origins=["https://intranet.example"])
        with TestClient(create_app(service)) as client:
            ok = client.get("/v1/kbs", headers={"Origin": "https://intranet.example"})
            assert ok.headers["access-control-allow-origin"] == "https://intranet.example"
            other = client.get("/v1/kbs", headers={"Origin": "https://evil.example"})
            assert "access-control-allow-origin" not in other.headers
