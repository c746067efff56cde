"""What the web page's browser tests need: a chat model that streams slowly and answers from its
prompt's passages, the real app served by uvicorn on a loopback port, and Debian's Chromium."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from babelrag.chains.generator import Decoding
from babelrag.stores.chunking import split_sentences
from babelrag.stores.fakes import fake_tokens
from babelrag.stores.langdetect import detect_language, language_name


class PassageEchoChatModel(BaseChatModel):
    """Answers with sentences of the passages in its prompt that are in the asked language, a few
    characters at a time with a pause between pieces, so a page can be seen streaming.

    Deterministic, and grounded by construction (every sentence is a passage's own), so answers
    keep their citations; a condensing prompt gets the follow-up back, a translation nothing.
    """

    decoding: Decoding = Decoding()
    context_tokens: int = 4096
    model_id: str = "fake/passage-echo"
    delay_s: float = 0.04
    piece_chars: int = 3

    @property
    def _llm_type(self) -> str:
        return "passage-echo"

    def count_tokens(self, text: str) -> int:
        return len(fake_tokens(text))

    def prompt_tokens(self, messages: list[BaseMessage]) -> int:
        return sum(self.count_tokens(str(m.content)) for m in messages)

    def invoke(self, input: Any, config: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.pop("decoding", None)
        return super().invoke(input, config, **kwargs)

    def stream(self, input: Any, config: Any = None, **kwargs: Any) -> Iterator[Any]:  # type: ignore[override]
        kwargs.pop("decoding", None)
        yield from super().stream(input, config, **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any):
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply_to(messages)))])

    def _stream(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any):
        text = reply_to(messages)
        if not text:  # a model always says something, if only its end-of-text token
            yield ChatGenerationChunk(message=AIMessageChunk(content=""))
        for start in range(0, len(text), self.piece_chars):
            time.sleep(self.delay_s)
            yield ChatGenerationChunk(message=AIMessageChunk(content=text[start : start + self.piece_chars]))


def reply_to(messages: list[BaseMessage]) -> str:
    """What the fake says to the rendered prompt (prompts/*.yaml decide the markers read here)."""
    system, prompt = str(messages[0].content), str(messages[-1].content)
    if "Follow-up:" in prompt:  # condense_question.yaml
        return _between(prompt, "Follow-up: ", "\n")
    if "Source text:" in prompt:  # expand_draft.yaml
        language = _between(prompt.rsplit("\n\nIn ", 1)[-1], "sentences in ", ", state")
        draft = _between(prompt, "The author's text:\n", "\n\nSource text:")
        # a terse model: one sentence, so a short draft's length budget reaches every section
        passages = _between(prompt, "Source text:\n", "\n\nIn ")
        return _sentences(passages, language, count=1, about=draft, skip=draft)
    if "Context:\n" in prompt:  # answer.yaml
        language = _between(system, "Always reply in ", ".")
        question = prompt.rsplit("\n\nQuestion: ", 1)[-1]
        return _sentences(_between(prompt, "Context:\n", "\n\nQuestion:"), language, count=2, about=question)
    return ""  # translate_query.yaml, rewrite_in_language.yaml: nothing to offer


_ENDS_SENTENCE = re.compile(r"[.!?。！？」”)]\s*$")


def _between(text: str, start: str, end: str) -> str:
    head = text.split(start, 1)[-1]
    return head.split(end, 1)[0] if end in head else head


def _sentences(passages: str, language: str, *, count: int, about: str, skip: str = "") -> str:
    """The ``count`` sentences in ``language`` of the passages that share most words with
    ``about`` (an extractive reader, so answers look like answers); titles and headings left out."""
    candidates: list[str] = []
    for line in passages.split("\n"):
        if not _ENDS_SENTENCE.search(line):  # a title or a heading
            continue
        for sentence in split_sentences(line):
            sentence = re.sub(r"\s+", " ", sentence).strip(" …")
            if len(sentence) < 8 or sentence in skip or sentence in candidates:
                continue
            if language_name(detect_language(sentence)) == language:
                candidates.append(sentence)
    words = set(fake_tokens(about))
    ranked = sorted(candidates, key=lambda s: -len(words & set(fake_tokens(s))))  # stable: ties keep order
    return " ".join(ranked[:count])


def chromium_executable() -> str | None:
    """Debian's Chromium (or the browser ``BABELRAG_CHROMIUM`` names); never a downloaded one."""
    return os.environ.get("BABELRAG_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def browser_required() -> bool:
    """CI (``.ci/run``) sets this: a missing browser there is a failure, not a skip."""
    return bool(os.environ.get("BABELRAG_TEST_REQUIRE_BROWSER"))


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """``app`` under uvicorn on a free 127.0.0.1 port, in a thread; yields its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
