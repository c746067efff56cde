"""Settings precedence (defaults < TOML < environment < flags) and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelrag.agents.config import default_config_file, load_settings
from babelrag.stores.errors import ConfigError

pytestmark = pytest.mark.unit


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_use_xdg_dirs(tmp_path: Path) -> None:
    s = load_settings()
    assert s.home == tmp_path / "xdg-data" / "babelrag"
    assert s.kb == "default"
    assert s.search.k == 5


def test_precedence_defaults_file_env_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _write(tmp_path / "c.toml", 'kb = "from-file"\n[search]\nk = 7\n[ingest]\nchunk_tokens = 300\n')
    s = load_settings(cfg)
    assert (s.kb, s.search.k, s.ingest.chunk_tokens) == ("from-file", 7, 300)

    monkeypatch.setenv("BABELRAG_KB", "from-env")
    monkeypatch.setenv("BABELRAG_SEARCH__K", "9")
    s = load_settings(cfg)
    assert (s.kb, s.search.k, s.ingest.chunk_tokens) == ("from-env", 9, 300)

    s = load_settings(cfg, kb="from-flag", search={"k": None})
    assert (s.kb, s.search.k) == ("from-flag", 9), "a flag left unset must not hide the environment"


def test_default_config_file_is_read_when_present() -> None:
    _write(default_config_file(), 'kb = "xdg"\n')
    assert load_settings().kb == "xdg"


def test_babelrag_home_overrides_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BABELRAG_HOME", str(tmp_path / "elsewhere"))
    s = load_settings()
    assert s.home == tmp_path / "elsewhere"
    assert s.chroma_dir == tmp_path / "elsewhere" / "chroma"


def test_config_env_var_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BABELRAG_CONFIG", str(_write(tmp_path / "x.toml", "[search]\nk = 3\n")))
    assert load_settings().search.k == 3


def test_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    bad = _write(tmp_path / "bad.toml", "kb = \n")
    with pytest.raises(ConfigError, match=r"bad\.toml is not valid TOML"):
        load_settings(bad)


def test_unknown_key_is_reported_with_its_name(tmp_path: Path) -> None:
    bad = _write(tmp_path / "typo.toml", "[search]\nkk = 3\n")
    with pytest.raises(ConfigError) as info:
        load_settings(bad)
    assert "search.kk: unknown setting" in str(info.value)


@pytest.mark.parametrize("name", ["a b", "-lead", "trail-", "x/y", "a..b", ""])
def test_bad_kb_names_are_rejected(name: str) -> None:
    with pytest.raises(ConfigError, match="knowledge base name"):
        load_settings(kb=name)


def test_overlap_must_be_below_half_the_chunk() -> None:
    with pytest.raises(ConfigError, match="chunk_overlap"):
        load_settings(ingest={"chunk_tokens": 64, "chunk_overlap": 40})


def test_invalid_env_value_says_which_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BABELRAG_SEARCH__K", "many")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "BABELRAG_SEARCH__K" in str(info.value)


def test_one_word_names_pick_the_packaged_generators(monkeypatch) -> None:
    monkeypatch.setenv("BABELRAG_MODELS__GENERATOR", "qwen-1.5b")
    assert load_settings().models.generator == "babelrag/qwen2.5-coder-1.5b-instruct-gguf"
    assert load_settings(models={"generator": "Qwen-0.5B"}).models.generator.endswith("0.5b-instruct-gguf")
    assert load_settings(models={"generator": "my/model"}).models.generator == "my/model"


def test_chroma_server_from_file_env_and_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().store.chroma_url is None, "embedded Chroma stays the default"
    cfg = _write(tmp_path / "c.toml", '[store]\nchroma_url = "http://chroma.lan:8000/"\n')
    assert load_settings(cfg).store.chroma_url == "http://chroma.lan:8000"
    monkeypatch.setenv("BABELRAG_STORE__CHROMA_URL", "10.0.0.5:9000")
    assert load_settings(cfg).store.chroma_url == "http://10.0.0.5:9000"


@pytest.mark.parametrize(
    "url", ["ftp://host:21", "http://host:port", "http://host:8000/api/v2", "http://:8000"]
)
def test_a_malformed_chroma_url_is_a_config_error(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BABELRAG_STORE__CHROMA_URL", url)
    with pytest.raises(ConfigError, match="BABELRAG_STORE__CHROMA_URL"):
        load_settings()


def test_the_chroma_token_is_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    from babelrag.agents.config import settings_to_toml

    monkeypatch.setenv("BABELRAG_STORE__CHROMA_TOKEN", "s3cret-token")
    settings = load_settings()
    assert settings.store.chroma_token is not None
    assert settings.store.chroma_token.get_secret_value() == "s3cret-token"
    assert "s3cret" not in settings_to_toml(settings) and "s3cret" not in repr(settings)
