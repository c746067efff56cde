"""The HTTP API's shapes: every request and response body, and the route table.

Response bodies are the CLI's ``--json`` contracts (the same serialisers produce both: a search hit
is ``SearchHit.to_dict()``, an answer ``AnswerResult.to_dict()``, a draft ``WriteResult.to_dict()``,
a knowledge base ``KnowledgeBaseInfo.to_dict()``, an upload the ``ingest --json`` report); they may
gain fields but never lose any. The models here document and validate them for OpenAPI (``/docs``);
``extra="allow"`` on responses keeps a field a serialiser adds from being cut off.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Scalar = str | int | float | bool


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- errors ---------------------------------------------------------------------------------
class ErrorDetail(BaseModel):
    message: str
    type: str = Field(
        description="invalid_request_error, authentication_error, not_found_error, "
        "request_too_large, unsupported_file_type, overloaded_error (503, with Retry-After), "
        "timeout_error (504), model_error, internal_error"
    )
    hint: str | None = None


class ErrorResponse(BaseModel):
    """Every error, whatever the status: never a traceback."""

    error: ErrorDetail


# -- search ---------------------------------------------------------------------------------
class SearchRequest(_Request):
    query: str = Field(min_length=1, max_length=4000, description="What to look for, in any language.")
    kb: str | None = Field(None, description="Knowledge base (default: the server's --kb).")
    k: int | None = Field(None, ge=1, le=200, description="Results (default: search.k).")
    lang: str | None = Field(None, description="Only passages in this language (en, zh, de ...).")
    where: dict[str, Scalar] | None = Field(None, description="Metadata filter; all must match.")
    translate: bool = Field(False, description="Also search with the query translated (uses the generator).")
    lexical: bool = Field(False, description="Fuse in BM25 keyword search.")
    chunks: bool = Field(False, description="Rank raw chunks instead of distinct documents.")


class Hit(_Response):
    """One passage: the ``search --json`` item."""

    id: str = Field(description="Chunk id: GET /v1/kbs/{kb}/passages/{id} returns it with its neighbours.")
    source: str
    title: str
    lang: str
    score: float = Field(description="Cosine similarity to the query as typed, clipped to 0-1.")
    text: str
    metadata: dict[str, Any] = Field(default_factory=dict)


class SearchResponse(_Response):
    query: str
    kb: str
    hits: list[Hit] = Field(description="Exactly the list `babelrag search --json` prints.")
    translations: dict[str, str] = Field(default_factory=dict, description="Language -> translated query.")
    timings: dict[str, float] = Field(default_factory=dict)


# -- ask ------------------------------------------------------------------------------------
class Decoding(_Request):
    """Per-request decoding overrides (default: the server's generation settings)."""

    strategy: Literal["greedy", "beam", "sample"] | None = None
    num_beams: int | None = Field(None, ge=2, le=16, description="For strategy = beam.")
    max_new_tokens: int | None = Field(None, ge=1, le=4096)
    temperature: float | None = Field(None, gt=0, le=5)
    top_k: int | None = Field(None, ge=0)
    top_p: float | None = Field(None, gt=0, le=1)
    seed: int | None = None
    repetition_penalty: float | None = Field(None, gt=0, le=3)
    stop: list[str] | None = None


class AskRequest(_Request):
    question: str = Field(min_length=1, max_length=4000)
    kb: str | None = None
    lang: str | None = Field(None, description="Answer language (default: the question's).")
    k: int | None = Field(None, ge=1, le=50, description="Passages for the generator (retrieval.k).")
    translate: bool | None = Field(
        None, description="Also search with translated queries (default: setting)."
    )
    lexical: bool | None = None
    source_lang: str | None = Field(None, description="Only use passages in this language.")
    where: dict[str, Scalar] | None = None
    stream: bool = Field(False, description="Server-Sent Events (also chosen by Accept: text/event-stream).")
    decoding: Decoding | None = None


class Source(Hit):
    ref: int = Field(description="The [n] marker in the answer that cites this passage.")


class AnswerResponse(_Response):
    """``babelrag ask --json``, plus the knowledge base."""

    question: str
    answer: str = Field(description="The checked answer, with [n] citation markers.")
    lang: str
    no_answer: bool
    sources: list[Source]
    translations: dict[str, str] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict, description="Seconds per step, with queue_s.")
    generation: dict[str, Any] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    kb: str


# -- write ----------------------------------------------------------------------------------
class WriteRequest(_Request):
    draft: str = Field(min_length=1, max_length=100_000, description="Markdown or plain text, any language.")
    kb: str | None = None
    lang: str | None = Field(None, description="The draft's language (default: detected).")
    factor: float | None = Field(None, gt=1, le=10, description="Target length, times the draft's.")
    sections: list[int] | None = Field(None, description="1-based sections to expand (default: all).")


class Addition(_Response):
    id: int
    section: int
    text: str = Field(description="The added sentences, with [n] markers into `sources`.")
    accepted: bool
    sources: list[Hit]


class WriteResponse(_Response):
    """``babelrag write --json``, plus the knowledge base."""

    lang: str
    unchanged: bool
    note: str | None
    text: str = Field(description="The draft with the accepted additions and a Sources list (Markdown).")
    additions: list[Addition]
    timings: dict[str, float] = Field(default_factory=dict)
    kb: str


class RenderRequest(_Request):
    """A write result after the author kept or rejected additions: the document to download."""

    draft: str = Field(min_length=1, max_length=100_000)
    lang: str
    additions: list[Addition]


class RenderResponse(_Response):
    text: str


# -- sessions -------------------------------------------------------------------------------
class SessionCreate(_Request):
    kb: str | None = None
    lang: str | None = Field(None, description="Force the answer language (default: each turn's own).")


class SessionUpdate(_Request):
    lang: str | None = Field(description="Answer language, or null to follow each turn's language.")


class Turn(_Response):
    role: Literal["user", "assistant"]
    content: str
    lang: str
    standalone: str | None = Field(None, description="The follow-up rewritten to stand alone (user turns).")
    sources: list[dict[str, Any]] = Field(default_factory=list, description="Cited passages (assistant).")


class Session(_Response):
    id: str
    kb: str
    created: float
    lang: str | None
    turns: list[Turn]


class SessionSummary(_Response):
    id: str
    kb: str
    created: float
    lang: str | None
    turns: int = Field(description="Number of question/answer pairs.")
    title: str = Field(description="The first question (cut to 80 characters).")


class TurnRequest(_Request):
    message: str = Field(min_length=1, max_length=4000)
    stream: bool = False


class TurnResponse(AnswerResponse):
    session_id: str


# -- knowledge bases ------------------------------------------------------------------------
class KbInfo(_Response):
    """``babelrag kb info --json``."""

    kb: str
    chunks: int
    embedder: str | None
    languages: dict[str, int]
    sources: dict[str, int]


class IngestResponse(_Response):
    """``babelrag ingest --json``: what the upload changed."""

    kb: str
    added: list[str]
    updated: list[str]
    unchanged: list[str]
    failed: list[tuple[str, str]]
    warnings: list[str]
    chunks_embedded: int
    chunks_kept: int
    chunks_removed: int
    files: list[str] = Field(description="Where the uploads were saved, relative to the data directory.")


class DropResponse(_Response):
    kb: str
    dropped: bool


class Passage(Hit):
    """One stored chunk (score 1), with the text of its neighbours in its document."""

    before: str | None = None
    after: str | None = None


# -- health ---------------------------------------------------------------------------------
class QueueState(_Response):
    size: int = Field(description="Most requests waiting for the generator.")
    waiting: int
    busy: bool


class Health(_Response):
    status: Literal["ok"]
    version: str
    home: str = Field(description="The data directory (resolved): the CLI only uses a service over its own.")
    kb: str = Field(description="The default knowledge base.")
    embedder: str
    embedding_backend: str
    generator: str
    auth: bool = Field(description="Whether requests need an API key.")
    queue: QueueState


# -- OpenAI-compatible ----------------------------------------------------------------------
class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(BaseModel):
    """What the OpenAI SDKs send; unknown fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(description="babelrag:<kb> or the bare knowledge-base name.")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    temperature: float | None = Field(None, ge=0, le=5)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1, le=4096)
    max_completion_tokens: int | None = Field(None, ge=1, le=4096)
    seed: int | None = None
    stop: str | list[str] | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "babelrag"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


#: Every route: (method, path, request body, response body, what it does). README-API.md lists the
#: same; tests/agents/service/test_routes.py checks the app serves exactly these.
ROUTES: tuple[tuple[str, str, str | None, str, str], ...] = (
    ("GET", "/healthz", None, "Health", "liveness, data home, queue state (no API key needed)"),
    ("POST", "/v1/search", "SearchRequest", "SearchResponse", "cross-lingual search"),
    ("POST", "/v1/ask", "AskRequest", "AnswerResponse | SSE", "answer with citations"),
    ("POST", "/v1/write", "WriteRequest", "WriteResponse", "expand a draft with cited additions"),
    ("POST", "/v1/write/render", "RenderRequest", "RenderResponse", "the document with chosen additions"),
    ("GET", "/v1/sessions", None, "list[SessionSummary]", "chat sessions, newest first"),
    ("POST", "/v1/sessions", "SessionCreate", "Session", "start a chat session (201)"),
    ("GET", "/v1/sessions/{session_id}", None, "Session", "a session with all its turns"),
    ("PATCH", "/v1/sessions/{session_id}", "SessionUpdate", "Session", "set or clear the answer language"),
    ("DELETE", "/v1/sessions/{session_id}", None, "204", "delete a session"),
    ("POST", "/v1/sessions/{session_id}/turns", "TurnRequest", "TurnResponse | SSE", "ask in a session"),
    ("GET", "/v1/kbs", None, "dict[str, int]", "knowledge bases and chunk counts (kb list --json)"),
    ("GET", "/v1/kbs/{kb}", None, "KbInfo", "one knowledge base (kb info --json)"),
    ("POST", "/v1/kbs/{kb}/files", "multipart files", "IngestResponse", "upload and ingest files"),
    ("DELETE", "/v1/kbs/{kb}", None, "DropResponse", "drop a knowledge base and its uploads"),
    ("GET", "/v1/kbs/{kb}/passages/{chunk_id}", None, "Passage", "one cited passage, with neighbours"),
    ("GET", "/v1/models", None, "ModelList", "OpenAI-compatible: one model per knowledge base"),
    ("POST", "/v1/chat/completions", "ChatCompletionRequest", "OpenAI chat.completion | SSE", "OpenAI chat"),
)

#: Server-Sent Events of /v1/ask and /v1/sessions/{id}/turns, in order. Every ``data`` is JSON.
SSE_EVENTS: dict[str, str] = {
    "queued": '{"position": int}  -- requests ahead of this one for the generator (0: next)',
    "start": '{"queue_s": float}  -- generation started after waiting queue_s seconds',
    "token": '{"text": str}  -- a piece of the raw answer as generated (not yet checked)',
    "result": "AnswerResponse (TurnResponse for a turn) -- the checked answer, sources, timings; "
    "its `answer` replaces the streamed text (sentences no passage supports are dropped)",
    "error": "ErrorResponse -- the request failed or timed out; the stream ends",
    "done": "{}  -- the stream ends (after result or error)",
}
