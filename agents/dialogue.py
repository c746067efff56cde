"""Multi-turn cross-lingual dialogue with history-aware retrieval.

Each turn is answered from the knowledge base in the language of that turn (or the forced
``/lang``). A follow-up ("and how do I undo that?") is first rewritten into a standalone
question from the recent history, so retrieval finds what the conversation is about. History
in the rewrite prompt is bounded by a token budget, newest turns first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

from langchain_core.prompts import ChatPromptTemplate

from babelrag.agents.sessions import ChatSession, Turn
from babelrag.chains.answer import AnswerPipeline, AnswerResult
from babelrag.chains.generator import Decoding, LocalChatModel
from babelrag.chains.prompting import render
from babelrag.chains.translate import clean_translation
from babelrag.stores.langdetect import UNDETERMINED, language_name

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


class Dialogue:
    def __init__(
        self,
        *,
        pipeline: AnswerPipeline,
        llm: LocalChatModel,
        condense_prompt: ChatPromptTemplate,
        detect_language: Callable[[str], str],
        history_tokens: int = 768,
    ) -> None:
        self.pipeline = pipeline
        self.llm = llm
        self.condense_prompt = condense_prompt
        self.detect_language = detect_language
        self.history_tokens = history_tokens

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
        history = history_window(session.turns, self.llm.count_tokens, self.history_tokens)
        if not history:
            return text
        lines = "\n".join(f"{'User' if t.role == 'user' else 'Assistant'}: {t.content}" for t in history)
        messages = render(self.condense_prompt, history=lines, question=text, language=language_name(lang))
        reply = self.llm.invoke(messages, decoding=Decoding(max_new_tokens=96))
        rewritten = clean_translation(str(reply.content))
        last_question = next((t.content for t in reversed(history) if t.role == "user"), "")
        unchanged = rewritten.strip().casefold() == text.strip().casefold()
        if not unchanged and _plausible(rewritten, text, lang, self.detect_language):
            return rewritten
        # A small model may echo or answer instead of rewriting. A short follow-up ("and then?")
        # is searched together with the previous question; a long one likely stands on its own.
        return f"{last_question} {text}".strip() if _is_short(text) else text

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
        for item in self.pipeline.stream(query, lang=lang):
            if isinstance(item, AnswerResult):
                result = item
            else:
                yield item
        assert result is not None
        session.turns.append(Turn("user", text, lang, standalone=query if query != text else None))
        session.turns.append(Turn("assistant", result.answer, lang, sources=result.sources))
        yield result


def _is_short(text: str) -> bool:
    cjk = sum(1 for ch in text if "\u3040" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af")
    words = len(re.findall(r"[^\W\d_]+", text))
    return cjk <= 16 if cjk else words <= 12


def _plausible(rewritten: str, original: str, lang: str, detect: Callable[[str], str]) -> bool:
    if not rewritten or len(rewritten) > 4 * max(len(original), 40):
        return False
    if detect(rewritten) not in (lang, UNDETERMINED):
        return False
    return bool(re.search(r"[?？]\s*$", rewritten)) or len(rewritten) >= len(original)
