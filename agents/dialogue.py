"""Multi-turn cross-lingual dialogue: a chat session's turns answered from the knowledge base.

Each turn is answered in the language of that turn (or the one forced with ``/lang``). A
follow-up is first condensed into a standalone question from the history (:mod:`babelrag.chains.condense`),
then answered by the answer chain; the session gains both turns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.runnables import Runnable

from babelrag.chains.answer import AnswerResult
from babelrag.stores.langdetect import UNDETERMINED
from babelrag.stores.sessions import ChatSession, Turn


class Dialogue:
    def __init__(
        self,
        *,
        answer_chain: Runnable[dict[str, Any], AnswerResult],
        condense_chain: Runnable[dict[str, Any], str],
        detect_language: Callable[[str], str],
    ) -> None:
        self.answer_chain = answer_chain
        self.condense_chain = condense_chain
        self.detect_language = detect_language

    def turn_language(self, session: ChatSession, text: str) -> str:
        if session.lang:
            return session.lang
        lang = self.detect_language(text)
        if lang == UNDETERMINED:  # "ok, and then?" -> the conversation's language
            previous = [t.lang for t in session.turns if t.role == "user"]
            lang = previous[-1] if previous else "en"
        return lang

    def standalone(self, session: ChatSession, text: str, lang: str) -> str:
        """The follow-up rewritten to stand alone (the question itself on the first turn)."""
        return self.condense_chain.invoke({"question": text, "history": session.turns, "lang": lang})

    def ask(self, session: ChatSession, text: str) -> AnswerResult:
        result: AnswerResult | None = None
        for item in self.stream(session, text):
            if isinstance(item, AnswerResult):
                result = item
        assert result is not None
        return result

    def stream(self, session: ChatSession, text: str) -> Iterator[str | AnswerResult]:
        """Yield answer pieces, then the :class:`AnswerResult`; the session gains both turns."""
        text = text.strip()
        lang = self.turn_language(session, text)
        query = self.standalone(session, text, lang)
        result: AnswerResult | None = None
        for item in self.answer_chain.stream({"question": query, "lang": lang}):
            if isinstance(item, AnswerResult):
                result = item
            else:
                yield item
        assert result is not None
        session.turns.append(Turn("user", text, lang, standalone=query if query != text else None))
        session.turns.append(Turn("assistant", result.answer, lang, sources=result.sources))
        yield result
