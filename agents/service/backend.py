"""What each endpoint does, on one runtime: the service's state and its synchronous work.

A :class:`Service` holds the process's one :class:`Runtime` (models loaded once, at start-up), a
runtime per knowledge base derived from it (sharing the models), the generation queue, and the
locks that keep concurrent requests from losing each other's writes: one per chat session (a turn
reads, extends and saves its session under it, so two turns on one session run one after the
other and both are kept: the lock is taken on the generator's thread, so a waiting turn holds
nothing) and one for ingesting uploads and dropping knowledge bases. Methods here are plain
functions of their input; the routes decide where they run (thread pool or generator queue).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import asdict
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babelrag.agents.service.errors import NotFoundError
from babelrag.agents.service.queue import GenerationQueue, Work
from babelrag.agents.service.schemas import (
    AskRequest,
    RenderRequest,
    SearchRequest,
    WriteRequest,
)
from babelrag.stores.errors import ConfigError
from babelrag.stores.knowledge_store import SearchHit, visible

if TYPE_CHECKING:
    from babelrag.agents.runtime import Runtime
    from babelrag.chains.answer import AnswerResult
    from babelrag.stores.sessions import ChatSession


def language(value: str | None) -> str | None:
    """A language field (``zh-CN``, ``German``, ``de``) as an ISO code; None stays None."""
    from babelrag.stores.langdetect import normalize_language_code

    if value is None or value.strip() in ("", "auto"):
        return None
    try:
        return normalize_language_code(value)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def package_version() -> str:
    try:
        return version("babelrag")
    except PackageNotFoundError:  # running from a checkout that is not installed
        return "0+unknown"


class Service:
    def __init__(self, runtime: Runtime, *, queue: GenerationQueue | None = None) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.queue = queue or GenerationQueue(self.settings.service.queue_size)
        self.sessions = runtime.session_store()
        self._runtimes: dict[str, Runtime] = {runtime.settings.kb: runtime}
        self._runtimes_lock = threading.Lock()
        self._session_locks: dict[str, threading.Lock] = {}
        self._kb_lock = threading.Lock()

    # -- start-up -----------------------------------------------------------------------------
    def warm_up(self, *, generator: bool = True) -> None:
        """Load the models before the first request, so no two requests race to load them and every
        knowledge base's runtime shares them (a runtime derived before a model loads would load
        its own copy)."""
        rt = self.runtime
        rt.__dict__["embedder"] = SerializedEmbedder(rt.embedder)
        if generator:
            _ = rt.llm
            _ = rt.translator  # engines load on first use, through the base runtime

    def runtime_for(self, kb: str | None, *, must_exist: bool = True) -> Runtime:
        name = kb_name(kb or self.settings.kb)
        if must_exist and name not in self.runtime.catalog().names():
            raise NotFoundError(
                f"there is no knowledge base named {name!r}",
                hint="GET /v1/kbs lists them; POST /v1/kbs/{name}/files creates one",
            )
        with self._runtimes_lock:
            if name not in self._runtimes:
                self._runtimes[name] = self.runtime.with_kb(name)
            return self._runtimes[name]

    # -- search, ask, write -------------------------------------------------------------------
    def search(self, req: SearchRequest) -> dict[str, Any]:
        """``POST /v1/search``: the hits are exactly ``babelrag search --json``."""
        rt = self.runtime_for(req.kb)
        retriever = rt.cross_lingual_retriever(
            k=req.k or rt.settings.search.k,
            translate=req.translate,
            lexical=req.lexical,
            lang=language(req.lang),
            where=req.where,
            group_documents=not req.chunks,
        )
        result = retriever.retrieve(req.query)
        return {
            "query": req.query,
            "kb": rt.settings.kb,
            "hits": [h.to_dict() for h in result.hits],
            "translations": result.translations,
            "timings": {k: round(v, 3) for k, v in result.timings.items()},
        }

    def ask_work(self, req: AskRequest) -> tuple[str, Work]:
        """The knowledge base and the generator work of ``POST /v1/ask`` (pieces, then the result)."""
        rt = self.runtime_for(req.kb)
        retriever = rt.cross_lingual_retriever(
            k=req.k,
            translate=req.translate,
            lexical=req.lexical,
            lang=language(req.source_lang),
            where=req.where,
        )
        chain = rt.answer_chain(retriever)
        request: dict[str, Any] = {"question": req.question, "lang": language(req.lang)}
        if req.decoding is not None:
            overrides = req.decoding.model_dump(exclude_none=True)
            if "stop" in overrides:
                overrides["stop"] = tuple(overrides["stop"])
            overrides.setdefault("max_new_tokens", rt.settings.generation.max_new_tokens)
            request["decoding"] = rt.decoding(**overrides)
        return rt.settings.kb, lambda: chain.stream(request)

    def write(self, req: WriteRequest) -> dict[str, Any]:
        """``POST /v1/write``: ``babelrag write --json`` plus the knowledge base (runs on the generator)."""
        rt = self.runtime_for(req.kb)
        result = rt.writing_assistant().expand(
            req.draft,
            lang=language(req.lang),
            sections=req.sections,
            factor=req.factor or rt.settings.write.factor,
        )
        return {**result.to_dict(), "kb": rt.settings.kb}

    def render(self, req: RenderRequest) -> dict[str, Any]:
        """The document with the additions the author kept (no model involved)."""
        from babelrag.agents.writer import Addition, WriteResult, split_sections
        from babelrag.chains.prompting import localized

        lang = language(req.lang) or "en"
        additions = [
            Addition(a.id, a.section, a.text, [hit_from_dict(h.model_dump()) for h in a.sources], a.accepted)
            for a in req.additions
        ]
        heading = localized(self.runtime.messages(), "sources", lang, "Sources")
        result = WriteResult(req.draft, lang, split_sections(req.draft), additions, source_heading=heading)
        return {"text": result.render()}

    # -- chat sessions --------------------------------------------------------------------------
    def session_lock(self, session_id: str) -> threading.Lock:
        """The lock held while a session is read, changed and saved (a turn, a language change)."""
        with self._runtimes_lock:
            return self._session_locks.setdefault(session_id, threading.Lock())

    def load_session(self, session_id: str) -> ChatSession:
        if not self.sessions.path(session_id).exists():
            raise NotFoundError(
                f"there is no chat session {session_id!r}", hint="GET /v1/sessions lists them"
            )
        return self.sessions.load(session_id)

    def create_session(self, kb: str | None, lang: str | None) -> ChatSession:
        rt = self.runtime_for(kb)
        session = self.sessions.new(rt.settings.kb)
        session.lang = language(lang)
        self.sessions.save(session)
        return session

    def list_sessions(self) -> list[dict[str, Any]]:
        out = []
        for s in self.sessions.list():
            first = next((t.content for t in s.turns if t.role == "user"), "")
            turns = sum(1 for t in s.turns if t.role == "user")
            out.append(
                {
                    "id": s.id,
                    "kb": s.kb,
                    "created": s.created,
                    "lang": s.lang,
                    "turns": turns,
                    "title": first[:80],
                }
            )
        return out

    def update_session(self, session_id: str, lang: str | None) -> ChatSession:
        with self.session_lock(session_id):
            session = self.load_session(session_id)
            session.lang = language(lang)
            self.sessions.save(session)
        return session

    def delete_session(self, session_id: str) -> None:
        with self.session_lock(session_id):
            self.load_session(session_id)
            self.sessions.path(session_id).unlink(missing_ok=True)

    def turn_work(self, session_id: str, message: str) -> Work:
        """A chat turn for the generator: under the session's lock it reads the session as it is
        then, answers, and saves it with both new turns. A cancelled turn saves nothing."""

        def work() -> Iterator[Any]:
            with self.session_lock(session_id):
                session = self.load_session(session_id)
                dialogue = self.runtime_for(session.kb).dialogue()
                for item in dialogue.stream(session, message):
                    if not isinstance(item, str):
                        self.sessions.save(session)
                    yield item

        return work

    # -- knowledge bases ------------------------------------------------------------------------
    def list_kbs(self) -> dict[str, int]:
        """``babelrag kb list --json``."""
        return self.runtime.catalog().list()

    def kb_info(self, kb: str) -> dict[str, Any]:
        """``babelrag kb info --json``."""
        rt = self.runtime_for(kb)
        return rt.catalog().info(rt.settings.kb).to_dict()

    def ingest(self, kb: str, paths: list[Path]) -> dict[str, Any]:
        """``babelrag ingest --json`` of files already saved in the data directory."""
        rt = self.runtime_for(kb, must_exist=False)
        # one ingest or drop at a time here, and none beside a CLI writer of the same KB
        with self._kb_lock, rt.writer_lock():
            report = rt.ingestor().ingest(paths)
        home = self.settings.home.resolve()
        files = [str(p.resolve().relative_to(home)) for p in paths]
        return {"kb": rt.settings.kb, **asdict(report), "files": files}

    def drop_kb(self, kb: str) -> dict[str, Any]:
        from babelrag.agents.service.uploads import remove_uploads

        rt = self.runtime_for(kb)
        with self._kb_lock, rt.writer_lock():
            rt.catalog().drop(rt.settings.kb)
            remove_uploads(self.settings.home, rt.settings.kb)
        with self._runtimes_lock:
            if rt is not self.runtime:
                self._runtimes.pop(rt.settings.kb, None)
        return {"kb": rt.settings.kb, "dropped": True}

    def passage(self, kb: str, chunk_id: str) -> dict[str, Any]:
        """One stored chunk with its neighbours' text: what a citation opens."""
        rt = self.runtime_for(kb)
        store = rt.catalog().open(rt.settings.kb)
        got = store.collection.get(ids=[chunk_id], include=["documents", "metadatas"])
        if not got["ids"] or not visible((got["metadatas"] or [{}])[0]):
            raise NotFoundError(f"knowledge base {kb!r} has no passage {chunk_id!r}")
        meta = dict((got["metadatas"] or [{}])[0] or {})
        hit = SearchHit(
            id=chunk_id,
            source=str(meta.get("source", "")),
            title=str(meta.get("title", "")),
            lang=str(meta.get("lang", "und")),
            score=1.0,
            text=(got["documents"] or [""])[0] or "",
            metadata=meta,
        )
        before, after = store.neighbours(hit)
        return {**hit.to_dict(), "before": before, "after": after}

    # -- health ---------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        models = self.settings.models
        return {
            "status": "ok",
            "version": package_version(),
            "home": str(self.settings.home.resolve()),
            "kb": self.settings.kb,
            "embedder": models.embedder,
            "embedding_backend": models.backend,
            "generator": models.generator,
            "auth": bool(self.settings.service.api_key),
            "queue": {"size": self.queue.maxsize, "waiting": self.queue.waiting, "busy": self.queue.busy},
        }


class SerializedEmbedder:
    """The embedder, one call at a time. The thread pool runs searches at once, and a Hugging Face
    fast tokenizer called from two threads can fail ("Already borrowed") when one call changes its
    truncation settings; a query embedding takes milliseconds, so the lock costs little, and the
    rest of a search (Chroma, fusion, BM25) still runs in parallel."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:  # model_id, dimension, max_tokens, ...
        return getattr(self._inner, name)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            return self._inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            return self._inner.embed_query(text)

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            return self._inner.embed_queries(texts)

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return self._inner.count_tokens(text)


def kb_name(name: str) -> str:
    """A knowledge base name by the settings' rule, or a :class:`ConfigError`."""
    from babelrag.agents.config import Settings

    return Settings.check_kb_name(name)


def hit_from_dict(data: dict[str, Any]) -> SearchHit:
    """A search hit back from its JSON form (``SearchHit.to_dict``)."""
    return SearchHit(
        id=str(data["id"]),
        source=str(data.get("source", "")),
        title=str(data.get("title", "")),
        lang=str(data.get("lang", "und")),
        score=float(data.get("score", 0.0)),
        text=str(data.get("text", "")),
        metadata=dict(data.get("metadata") or {}),
    )


def answer_dict(result: AnswerResult, kb: str, queue_s: float) -> dict[str, Any]:
    """``babelrag ask --json`` plus the knowledge base and the time waited for the generator."""
    data = result.to_dict()
    data["timings"] = {**data["timings"], "queue_s": round(queue_s, 3)}
    return {**data, "kb": kb}
