"""Condensing a follow-up: "and how do I undo that?" rewritten into a standalone question.

Retrieval needs to know what the conversation is about; the recent history (bounded by a token
budget, newest turns first) and the follow-up go to the ``condense_question`` prompt. A small model
may echo or answer instead of rewriting, so an implausible rewrite is not used: a short follow-up is
then searched together with the previous question, a long one on its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnableConfig

from babelrag.chains.generator import Decoding, LocalChatModel
from babelrag.chains.prompting import render
from babelrag.chains.translate import clean_translation
from babelrag.stores.cjk import cjk_count
from babelrag.stores.langdetect import UNDETERMINED, language_name
from babelrag.stores.sessions import Turn

CONDENSE_VARIABLES = ("history", "question", "language")


def history_window(turns: Sequence[Turn], count_tokens: Callable[[str], int], budget: int) -> list[Turn]:
    """The most recent turns whose text fits in ``budget`` tokens (a turn is never cut)."""
    kept: list[Turn] = []
    used = 0
    for turn in reversed(turns):
        cost = count_tokens(turn.content) + 4
        if used + cost > budget:
            break
        kept.append(turn)
        used += cost
    return list(reversed(kept))


class CondenseChain(Runnable[dict[str, Any], str]):
    """``{"question", "history": [Turn...], "lang"}`` -> the question to search with."""

    name = "condense_question"

    def __init__(
        self,
        *,
        llm: LocalChatModel,
        prompt: ChatPromptTemplate,
        detect_language: Callable[[str], str],
        history_tokens: int = 768,
    ) -> None:
        self.llm = llm
        self.prompt = prompt
        self.detect_language = detect_language
        self.history_tokens = history_tokens

    def invoke(self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any) -> str:
        return self._call_with_config(self._condense, input, config)

    def _condense(self, request: Mapping[str, Any]) -> str:
        text, lang = str(request["question"]), str(request["lang"])
        history = history_window(request.get("history") or (), self.llm.count_tokens, self.history_tokens)
        if not history:
            return text
        lines = "\n".join(f"{'User' if t.role == 'user' else 'Assistant'}: {t.content}" for t in history)
        messages = render(self.prompt, history=lines, question=text, language=language_name(lang))
        reply = self.llm.invoke(messages, decoding=Decoding(max_new_tokens=96))
        rewritten = clean_translation(str(reply.content))
        last_question = next((t.content for t in reversed(history) if t.role == "user"), "")
        unchanged = rewritten.strip().casefold() == text.strip().casefold()
        if not unchanged and _plausible(rewritten, text, lang, self.detect_language):
            return rewritten
        return f"{last_question} {text}".strip() if _is_short(text) else text


def _is_short(text: str) -> bool:
    cjk = cjk_count(text)
    words = len(re.findall(r"[^\W\d_]+", text))
    return cjk <= 16 if cjk else words <= 12


def _plausible(rewritten: str, original: str, lang: str, detect: Callable[[str], str]) -> bool:
    if not rewritten or len(rewritten) > 4 * max(len(original), 40):
        return False
    if detect(rewritten) not in (lang, UNDETERMINED):
        return False
    return bool(re.search(r"[?？]\s*$", rewritten)) or len(rewritten) >= len(original)
