"""One typed settings object: defaults < TOML file < environment < command-line flags.

Environment variables are ``BABELRAG_<FIELD>`` and ``BABELRAG_<SECTION>__<FIELD>``
(e.g. ``BABELRAG_KB``, ``BABELRAG_SEARCH__K``). The TOML file is ``--config PATH``,
else ``$BABELRAG_CONFIG``, else ``$XDG_CONFIG_HOME/babelrag/config.toml`` if it exists.
Only the CLI builds settings; everything below it receives plain values.
"""

from __future__ import annotations

import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from babelrag.stores.errors import ConfigError

_KB_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,58}[A-Za-z0-9])?$")
_FILE_DATA: ContextVar[dict[str, Any] | None] = ContextVar("babelrag_config_file_data", default=None)


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


def default_home() -> Path:
    return _xdg("XDG_DATA_HOME", ".local/share") / "babelrag"


def default_cache_dir() -> Path:
    return _xdg("XDG_CACHE_HOME", ".cache") / "babelrag"


def default_config_file() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config") / "babelrag" / "config.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelSettings(_Section):
    embedder: str = Field(
        "babelrag/multilingual-e5-small",
        description="Embedding model: a babelrag/ pack name, a Hugging Face id, or a local folder.",
    )
    generator: str = Field(
        "babelrag/qwen2.5-coder-0.5b-instruct",
        description="Generator (causal LM): a babelrag/ pack name, a Hugging Face id, or a local folder.",
    )
    device: str = Field("cpu", description="Torch device for the local models.")
    embedding_batch_size: int = Field(16, ge=1, le=1024, description="Texts embedded per batch.")
    query_prompt: str | None = Field(None, description="Prefix for queries; default: the model's own prompt.")
    document_prompt: str | None = Field(
        None, description="Prefix for passages; default: the model's own prompt."
    )


class IngestSettings(_Section):
    chunk_tokens: int = Field(200, ge=32, le=512, description="Chunk size in embedder tokens.")
    chunk_overlap: int = Field(
        32, ge=0, le=128, description="Tokens of whole sentences repeated between chunks."
    )

    @model_validator(mode="after")
    def _overlap_below_half(self) -> IngestSettings:
        if self.chunk_overlap * 2 >= self.chunk_tokens:
            raise ValueError("chunk_overlap must be less than half of chunk_tokens")
        return self


class SearchSettings(_Section):
    k: int = Field(5, ge=1, le=200, description="Passages returned by a search.")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BABELRAG_", env_nested_delimiter="__", extra="forbid", validate_assignment=True
    )

    home: Path = Field(default_factory=default_home, description="Data directory (stores, sessions).")
    cache_dir: Path = Field(default_factory=default_cache_dir, description="Model pack and caches.")
    kb: str = Field("default", description="Knowledge base name.")
    prompts_dir: Path | None = Field(None, description="Folder of prompt templates that override built-ins.")
    models: ModelSettings = Field(default_factory=ModelSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)

    @field_validator("kb")
    @classmethod
    def _kb_name(cls, value: str) -> str:
        if not _KB_NAME.match(value) or ".." in value:
            raise ValueError(
                "a knowledge base name is 1-60 letters, digits, '_', '-' or '.', "
                "starting and ending with a letter or digit"
            )
        return value

    @field_validator("home", "cache_dir", "prompts_dir")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @property
    def chroma_dir(self) -> Path:
        return self.home / "chroma"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _FileSource(settings_cls)


class _FileSource(PydanticBaseSettingsSource):
    """The parsed TOML file of the current :func:`load_settings` call."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return (_FILE_DATA.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_FILE_DATA.get() or {})


def config_file_path(explicit: Path | None = None) -> tuple[Path, bool]:
    """The config file to read and whether it must exist (it must when named explicitly)."""
    if explicit is not None:
        return explicit.expanduser(), True
    if env := os.environ.get("BABELRAG_CONFIG"):
        return Path(env).expanduser(), True
    return default_config_file(), False


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings; ``overrides`` are the command-line values (None means not given)."""
    path, required = config_file_path(config_file)
    data = _read_toml(path, required=required)
    token = _FILE_DATA.set(data)
    try:
        return Settings(**_drop_none(overrides))
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path if data else None)) from None
    finally:
        _FILE_DATA.reset(token)


def _read_toml(path: Path, *, required: bool) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise ConfigError(f"config file {path} does not exist") from None
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            value = _drop_none(value)
            if value:
                out[key] = value
        elif value is not None:
            out[key] = value
    return out


def _describe(exc: ValidationError, path: Path | None) -> str:
    lines = ["invalid settings" + (f" (config file {path} was read)" if path else "") + ":"]
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "settings"
        env = "BABELRAG_" + "__".join(str(p).upper() for p in err["loc"])
        given = f" (got {err['input']!r})" if err["type"] != "extra_forbidden" else ""
        message = "unknown setting" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"  {where}: {message}{given}  [TOML key {where!r}, environment {env}]")
    return "\n".join(lines)


def settings_to_toml(settings: Settings) -> str:
    import tomli_w

    data = settings.model_dump(mode="json", exclude_none=True)
    return tomli_w.dumps(data)
