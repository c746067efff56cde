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
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from babelrag.stores.errors import ConfigError

_KB_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,58}[A-Za-z0-9])?$")
_KB_RULE = (
    "a knowledge base name is 1-60 letters, digits, '_', '-' or '.', "
    "starting and ending with a letter or digit"
)
EmbeddingBackend = Literal["auto", "torch", "onnx-int8"]
#: Embedders whose int8 ONNX graph was measured to rank as well as fp32 (Debian Reference, MRR@10
#: within 0.01): ``embedding_backend = "auto"`` runs them in int8 on the CPU, others in torch.
INT8_MEASURED_EMBEDDERS = frozenset({"babelrag/multilingual-e5-small", "intfloat/multilingual-e5-small"})
#: Embedders whose own cross-lingual ranking beats fusing in query translations (measured on
#: Debian Reference titles): ``retrieval.translate = "auto"`` does not translate for them.
NO_TRANSLATION_EMBEDDERS = frozenset({"babelrag/embeddinggemma-300m", "google/embeddinggemma-300m"})
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
    model_config = ConfigDict(extra="forbid", frozen=True)


#: One-word names for the packaged generators: ``models.generator = "qwen-1.5b"``.
GENERATOR_ALIASES = {
    "qwen-0.5b": "babelrag/qwen2.5-coder-0.5b-instruct-gguf",
    "qwen-1.5b": "babelrag/qwen2.5-coder-1.5b-instruct-gguf",
}


class ModelSettings(_Section):
    embedder: str = Field(
        "babelrag/multilingual-e5-small",
        description="Embedding model: a babelrag/ pack name, a Hugging Face id, or a local folder.",
    )
    generator: str = Field(
        "babelrag/qwen2.5-coder-0.5b-instruct-gguf",
        description="Generator: a babelrag/ pack name (or qwen-0.5b / qwen-1.5b for the packaged GGUFs), "
        "a Hugging Face id, a local model folder or a .gguf file.",
    )

    @field_validator("generator")
    @classmethod
    def _generator_alias(cls, value: str) -> str:
        return GENERATOR_ALIASES.get(value.strip().lower(), value)

    device: str = Field("cpu", description="Torch device for the local models.")
    embedding_batch_size: int = Field(16, ge=1, le=1024, description="Texts embedded per batch.")
    embedding_backend: EmbeddingBackend = Field(
        "auto",
        description="How the embedder runs: torch (fp32, any device), onnx-int8 (ONNX Runtime on the CPU, "
        "int8 weights, ~2.9x faster; built once from the model into the cache folder), or auto: onnx-int8 "
        "on the CPU for embedders measured to lose nothing in int8 (multilingual-e5-small), torch "
        "otherwise. A knowledge base keeps the backend it was built with: the vectors do not mix.",
    )

    query_prompt: str | None = Field(None, description="Prefix for queries; default: the model's own prompt.")
    document_prompt: str | None = Field(
        None, description="Prefix for passages; default: the model's own prompt."
    )

    @property
    def backend(self) -> Literal["torch", "onnx-int8"]:
        """The embedding backend ``auto`` stands for with these settings."""
        if self.embedding_backend != "auto":
            return self.embedding_backend
        on_cpu = self.device.strip().lower().startswith("cpu")
        return "onnx-int8" if on_cpu and self.embedder in INT8_MEASURED_EMBEDDERS else "torch"


class IngestSettings(_Section):
    chunk_tokens: int = Field(200, ge=32, le=512, description="Chunk size in embedder tokens.")
    chunk_overlap: int = Field(
        32, ge=0, le=128, description="Tokens of whole sentences repeated between chunks."
    )
    max_file_mb: float = Field(
        100,
        gt=0,
        description="Larger files are skipped with a message (chunking 1 MB on one line takes ~10 s).",
    )
    chunk_context: bool = Field(
        True,
        description="Embed and index each chunk with a header: its document's title and the headings "
        "above it (the passage shown stays the chunk). Changing it re-embeds on the next ingest.",
    )
    section_entries: bool = Field(
        True,
        description="With chunk_context, also embed each section of two chunks or more whole (up to the "
        "model's limit) beside its chunks, for retrieval.section_weight (Debian Reference, dense: openings "
        "+.002 to +.022 MRR@10, titles +.001 to +.014; ingest 1.27x the time on the sample KB). Changing "
        "it re-plans every file on the next ingest (kept chunks are not embedded again).",
    )
    translate_to: list[str] = Field(
        default_factory=list,
        description="Languages (ISO 639-1) each passage in another language is also machine-translated "
        "into at ingest, through the configured translator; the translations are marked as such and "
        "answers cite the originals. Changing it re-plans every file on the next ingest.",
    )

    @field_validator("translate_to")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        from babelrag.stores.langdetect import normalize_language_code

        return list(dict.fromkeys(normalize_language_code(v) for v in value if v.strip()))

    @model_validator(mode="after")
    def _overlap_below_half(self) -> IngestSettings:
        if self.chunk_overlap * 2 >= self.chunk_tokens:
            raise ValueError("chunk_overlap must be less than half of chunk_tokens")
        return self


class SearchSettings(_Section):
    k: int = Field(5, ge=1, le=200, description="Passages returned by a search.")
    max_query_chars: int = Field(
        4000, ge=1, le=1_000_000, description="Longest query or question accepted, in characters."
    )


class RetrievalSettings(_Section):
    """How ask/chat/write retrieve: which lists are fused."""

    k: int = Field(4, ge=1, le=50, description="Passages given to the generator.")
    group_documents: bool = Field(
        True,
        description="One passage per document (its best chunk, widened by its neighbours where the "
        "prompt has room) rather than several chunks of one document; lists are fused over documents.",
    )
    translate: bool | Literal["auto"] = Field(
        "auto",
        description="Also search with the query translated into the KB's languages. auto: yes, except "
        "for embedders that rank better without it (EmbeddingGemma on Debian Reference: translation "
        "and BM25 fusion lower MRR@10 by 0.03-0.13).",
    )
    headings: bool = Field(
        True,
        description="Match the query against each document's headers (title > headings, embedded on "
        "their own at ingest) as well as its chunks; a heading that matches stands for the first "
        "chunk under it. Debian Reference titles, e5: R@5 .96 -> .97-.99, openings unchanged.",
    )
    heading_margin: float = Field(
        0.02,
        ge=0,
        le=1,
        description="How much less than a chunk's cosine a heading's counts (0.02-0.03 measured best; "
        "larger lets fewer headings win).",
    )
    section_weight: float = Field(
        0.25,
        ge=0,
        le=4,
        description="How much a chunk's section counts beside the chunk: its score is (chunk cosine + w x "
        "section cosine) / (1 + w), the section's whole text embedded at ingest (ingest.section_entries). "
        "0: the chunk alone. Debian Reference, all judged queries: 0.5 within +-.007 of 0.25 on every set; "
        "0.25 keeps the chunk first where a section is longer than its vector reads (512 tokens).",
    )
    lexical: bool = Field(False, description="Also fuse in BM25 lexical search (CJK-aware tokens).")
    fetch_k: int = Field(20, ge=1, le=500, description="Hits taken from each list before fusion.")
    merge: Literal["mean", "rank"] = Field(
        "mean",
        description="How the rankings of the question and its translations are combined: mean = by "
        "each passage's mean cosine over them, translations weighing translation_weight (a weighted "
        "centroid query); rank = reciprocal rank fusion of their lists. Debian Reference, 6 languages, "
        "mean over rank: titles +.00 to +.02 MRR@10, R@5 .97-.99; openings -.01 (fr) to +.03.",
    )
    rrf_k: int = Field(60, ge=0, le=1000, description="Reciprocal rank fusion constant.")
    translation_weight: float = Field(
        2.0,
        ge=0,
        le=10,
        description="Weight of the translated queries against the question (1 = equal): in the mean "
        "(merge = mean) and in rank fusions (their BM25 lists; their dense lists with merge = rank). "
        "2 keeps passages in the question's language that only the question matches out of the top.",
    )


class GenerationSettings(_Section):
    strategy: Literal["greedy", "beam", "sample"] = Field("greedy", description="Decoding strategy.")
    max_new_tokens: int = Field(320, ge=1, le=8192)
    num_beams: int = Field(4, ge=2, le=16, description="Beams for strategy = beam.")
    temperature: float = Field(0.7, gt=0, le=5, description="For strategy = sample.")
    top_k: int = Field(50, ge=0, description="For strategy = sample (0 = off).")
    top_p: float = Field(0.9, gt=0, le=1, description="For strategy = sample.")
    seed: int | None = Field(None, description="Seed for sampling (reproducible answers).")
    repetition_penalty: float = Field(1.05, gt=0, le=3)
    stop: list[str] = Field(default_factory=list, description="Stop strings.")
    dtype: Literal["auto", "bfloat16", "float32", "float16"] = Field(
        "auto",
        description="Weights dtype. auto: bfloat16 where the hardware computes it natively "
        "(CPUs with AVX-512 BF16 / AMX, bf16 GPUs), else float32 (bf16 is emulated, many times slower).",
    )
    threads: int | None = Field(
        None, ge=1, le=512, description="Generator threads (default: the machine's physical cores)."
    )
    engine: Literal["auto", "llama.cpp", "transformers"] = Field(
        "auto",
        description="Generator engine. auto: llama.cpp for a GGUF file (or a folder holding one), "
        "transformers for a Hugging Face id or model folder.",
    )
    context_tokens: int = Field(3072, ge=256, le=131072, description="Prompt + answer token budget.")


class TranslationSettings(_Section):
    model: str | None = Field(
        None,
        description="A Hugging Face translation model (id or folder); default: the generator via a prompt.",
    )
    model_languages: Literal["fixed", "nllb", "iso"] = Field(
        "fixed", description="How the model names languages: fixed pair (MarianMT), nllb codes, or ISO codes."
    )
    model_pair: str | None = Field(None, description="For fixed-pair models: SOURCE-TARGET, e.g. zh-en.")
    targets: list[str] = Field(
        default_factory=list, description="Languages to translate into; default: the KB's."
    )
    max_targets: int = Field(3, ge=0, le=20)
    cache: bool = Field(True, description="Cache translations in the cache folder.")
    engine: Literal["auto", "llm", "model", "apertium"] = Field(
        "auto",
        description="Who translates the pairs `pairs` does not name. auto: the `model` if one is set, "
        "else Apertium for the pairs where it measured at least as well as the generator (pt-en) once "
        "`babelrag models install apertium` has run, else the generator. llm: the generator through "
        "the translate_query prompt. model: the `model`. apertium: Apertium (es-en; fr, pt, it to en "
        "through Spanish; 1.5-7x faster than the generator, 2-9 MRR points worse for es, fr, it). "
        "A pair an engine cannot translate goes to the generator.",
    )
    pairs: dict[str, Literal["llm", "model", "apertium"]] = Field(
        default_factory=dict,
        description="Engine per language pair SOURCE-TARGET, before `engine`: "
        '{"es-en" = "apertium", "zh-en" = "llm"}. Naming apertium makes it an error if it is not installed.',
    )

    #: Pairs where Apertium measured at least as well as the default generator (MRR@10 of translated
    #: Debian Reference titles, README "How well it works"): pt-en .82 vs .81, at a fifth of the time.
    #: It lost es-en (.72 vs .75), fr-en (.71 vs .79) and it-en (.75 vs .84).
    auto_apertium_pairs: ClassVar[tuple[str, ...]] = ("pt-en",)

    @field_validator("pairs", mode="before")
    @classmethod
    def _pair_keys(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        pairs = {}
        for key, engine in value.items():
            pair = str(key).strip().lower().replace("_", "-")
            if not re.fullmatch(r"[a-z]{2,3}-[a-z]{2,3}", pair):
                raise ValueError(f"pair {key!r} must look like es-en (SOURCE-TARGET language codes)")
            pairs[pair] = engine
        return pairs

    @model_validator(mode="after")
    def _model_engine_needs_a_model(self) -> TranslationSettings:
        if self.model is None and "model" in (self.engine, *self.pairs.values()):
            raise ValueError("engine 'model' needs translation.model (a Hugging Face translation model)")
        return self

    def routing(self, *, apertium_installed: bool) -> tuple[dict[str, list[str]], list[str]]:
        """Engines to try per pair and for every other pair: the first that can translate a pair does."""
        model = ["model"] if self.model else []
        if self.engine == "auto":
            default = [*model, "llm"]
            auto = [*model, "apertium", "llm"] if apertium_installed else default
            routes = {pair: auto for pair in self.auto_apertium_pairs}
        else:
            default, routes = list(dict.fromkeys([self.engine, "llm"])), {}
        routes.update({pair: list(dict.fromkeys([engine, "llm"])) for pair, engine in self.pairs.items()})
        return routes, default


class AnswerSettings(_Section):
    min_support: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Least similarity between an answer sentence and the passage it is cited to.",
    )
    number_passages: bool = Field(
        False, description="Number the passages in the prompt (for stronger models)."
    )
    passage_tokens: int = Field(
        0,
        ge=0,
        le=4096,
        description="Widen each retrieved chunk with sentences of its neighbours up to this many tokens "
        "(small-to-big; 0 = the chunk alone, the default: with the 0.5B generator 240 changed no "
        "answer metric on Debian Reference and made an ask ~0.9 s slower). Longer passages cost "
        "prefill time; try 240-400 with a larger generator.",
    )
    rewrite_wrong_language: bool = Field(
        True, description="Rewrite an answer the model wrote in another language than the question's."
    )


class ChatSettings(_Section):
    history_tokens: int = Field(
        768, ge=0, le=32768, description="History used to rewrite follow-ups, in tokens."
    )


class WriteSettings(_Section):
    factor: float = Field(
        1.5, gt=1, le=10, description="Target length of the expanded draft, times the draft's."
    )


class StoreSettings(_Section):
    """Where the knowledge bases live: the data directory (embedded Chroma) or a Chroma server."""

    chroma_url: str | None = Field(
        None,
        description="A Chroma server (`chroma run --path DIR --port P`) as http://host:port, shared by "
        "every babelrag process that names it; default: embedded Chroma in the data directory.",
    )
    chroma_token: SecretStr | None = Field(
        None,
        description="Token sent to the Chroma server (for a server behind an authenticating proxy, "
        "or Chroma Cloud); never printed.",
    )
    chroma_token_header: Literal["authorization", "x-chroma-token"] = Field(
        "authorization",
        description="How the token is sent: `Authorization: Bearer TOKEN` or `X-Chroma-Token: TOKEN`.",
    )

    @field_validator("chroma_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from urllib.parse import urlsplit

        value = value.strip().rstrip("/")
        parts = urlsplit(value if "://" in value else f"http://{value}")
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
            raise ValueError("chroma_url must look like http://host:port (or https://host)")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("chroma_url must be the server's root, http://host:port, without a path")
        return value if "://" in value else f"http://{value}"


class ServiceSettings(_Section):
    """``babelrag serve``, and the CLI's use of a running one."""

    host: str = Field("127.0.0.1", description="Address to bind; any other than loopback needs an API key.")
    port: int = Field(8000, ge=1, le=65535, description="Port to bind (and where the CLI looks).")
    api_key: SecretStr | None = Field(
        None,
        description="Key clients send as 'Authorization: Bearer KEY' or 'X-API-Key: KEY' "
        "(also BABELRAG_API_KEY). Required for a non-loopback host.",
    )
    queue_size: int = Field(
        8, ge=1, le=1024, description="Requests that may wait for the generator; more get 503."
    )
    request_timeout_s: float = Field(
        300.0, gt=0, le=86400, description="Longest a request may take, queue wait included (504 after)."
    )
    upload_max_mb: float = Field(50.0, gt=0, le=10240, description="Largest uploaded file, in MiB.")
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS (none: CORS off)."
    )
    use_from_cli: bool = Field(
        True, description="search and ask use a running local service over the same data directory."
    )
    cli_connect_timeout_s: float = Field(
        0.2, gt=0, le=10, description="How long the CLI waits for a running service to answer /healthz."
    )


class Settings(BaseSettings):
    # frozen: settings are built once (in the CLI) and passed down; a variant is a new object
    # env_ignore_empty: `BABELRAG_HOME=` must mean "not set", not the current folder
    model_config = SettingsConfigDict(
        env_prefix="BABELRAG_", env_nested_delimiter="__", extra="forbid", frozen=True, env_ignore_empty=True
    )

    home: Path = Field(default_factory=default_home, description="Data directory (stores, sessions).")
    cache_dir: Path = Field(default_factory=default_cache_dir, description="Model pack and caches.")
    kb: str = Field("default", description="Knowledge base name.")
    prompts_dir: Path | None = Field(None, description="Folder of prompt templates that override built-ins.")
    models: ModelSettings = Field(default_factory=ModelSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    translation: TranslationSettings = Field(default_factory=TranslationSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    write: WriteSettings = Field(default_factory=WriteSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)

    @field_validator("kb")
    @classmethod
    def _kb_name(cls, value: str) -> str:
        if not _KB_NAME.match(value) or ".." in value:
            raise ValueError(_KB_RULE)
        return value

    @staticmethod
    def check_kb_name(value: str) -> str:
        """A knowledge base name as settings accept it, or a :class:`ConfigError` saying the rule."""
        if not _KB_NAME.match(value) or ".." in value:
            raise ConfigError(f"invalid knowledge base name {value!r}: {_KB_RULE}")
        return value

    @field_validator("home", "cache_dir", "prompts_dir")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @property
    def chroma_dir(self) -> Path:
        return self.home / "chroma"

    @property
    def store_location(self) -> str:
        """Where the knowledge bases are, for messages: the Chroma server or the data directory."""
        return f"the Chroma server at {self.store.chroma_url}" if self.store.chroma_url else str(self.home)

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
    except SettingsError as exc:  # a section's variable that is not JSON: BABELRAG_SEARCH=abc
        field = m.group(1) if (m := re.search(r'field "(\w+)"', str(exc))) else "?"
        var = f"BABELRAG_{field.upper()}"
        raise ConfigError(
            f"environment variable {var} is not valid: the section {field!r} takes a JSON object",
            hint=f"e.g. {var}='{{\"key\": value}}', or set one field with {var}__KEY=value",
        ) from None
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
