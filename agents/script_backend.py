"""The :class:`ScriptBackend` of scripted runs, over the composition root: one method per step
type, called by that type's ``run`` in ``babelrag.agents.scripting.step_types``.

Each call gets the merged settings overrides of its step; a runtime for those settings is
derived from the base one, sharing the models already loaded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from babelrag.agents.config import Settings
from babelrag.agents.limits import check_query
from babelrag.agents.runtime import Runtime


class RuntimeBackend:
    def __init__(self, base: Runtime, make_settings: Callable[..., Settings]) -> None:
        self.base = base
        self.make_settings = make_settings
        self._cache: dict[str, Runtime] = {}

    def _rt(self, settings: dict[str, Any]) -> Runtime:
        key = json.dumps(settings, sort_keys=True, default=str)
        if key not in self._cache:
            self._cache[key] = self.base.derive(self.make_settings(**settings)) if settings else self.base
        return self._cache[key]

    def ingest(self, paths: list[Path], settings: dict[str, Any]) -> dict:
        rt = self._rt(settings)
        with rt.writer_lock():
            return {"kb": rt.settings.kb, **asdict(rt.ingestor().ingest(paths, rt.progress))}

    def search(
        self, query: str, k: int | None, lang: str | None, where: dict | None, settings: dict[str, Any]
    ) -> list[dict]:
        rt = self._rt(settings)
        query = check_query(query, rt.settings)
        retriever = rt.cross_lingual_retriever(
            k=k or rt.settings.search.k, translate=False, lexical=False, lang=lang, where=where
        )  # as `babelrag search` without --translate/--lexical
        return [h.to_dict() for h in retriever.retrieve(query).hits]

    def ask(self, question: str, lang: str | None, settings: dict[str, Any]) -> dict:
        rt = self._rt(settings)
        question = check_query(question, rt.settings, what="question")
        return rt.answer_chain().invoke({"question": question, "lang": lang}).to_dict()

    def translate(self, text: str, source: str | None, target: str, settings: dict[str, Any]) -> str:
        from babelrag.stores.langdetect import detect_language

        rt = self._rt(settings)
        source = source or detect_language(text)
        return text if source == target else rt.translator.translate(text, source, target)

    def write(
        self,
        draft: str,
        lang: str | None,
        factor: float | None,
        sections: list[int] | None,
        settings: dict[str, Any],
    ) -> dict:
        rt = self._rt(settings)
        result = rt.writing_assistant().expand(
            draft, lang=lang, sections=sections, factor=factor or rt.settings.write.factor
        )
        return result.to_dict()

    def chat(self, session: str | None, turns: list[str], settings: dict[str, Any]) -> dict:
        rt = self._rt(settings)
        store = rt.session_store()
        chat = store.load(session) if session else store.new(rt.settings.kb)
        dialogue = rt.dialogue()
        answers = []
        for text in turns:
            answers.append(dialogue.ask(chat, text).to_dict())
            store.save(chat)
        return {"session": chat.id, "turns": answers}
