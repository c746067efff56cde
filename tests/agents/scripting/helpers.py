"""A fake script backend and helpers to write scripts, shared by the scripting tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from babelrag.agents.scripting import ScriptError, load_script

REPO = Path(__file__).resolve().parents[3]


EXAMPLES = REPO / "examples" / "scripts"


EXAMPLE_SCRIPTS = sorted(EXAMPLES.glob("*.yaml"))


class FakeBackend:
    """Answers every call from its inputs and records it; ``fail`` maps a step type to an error."""

    def __init__(self, fail: dict[str, Exception] | None = None, on_call: Any = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail or {}
        self.on_call = on_call

    def _record(self, kind: str, **args: Any) -> None:
        self.calls.append((kind, args))
        if self.on_call:
            self.on_call(kind, args)
        if kind in self.fail:
            raise self.fail[kind]

    def ingest(self, paths: list[Path], settings: dict) -> dict:
        self._record("ingest", paths=paths, settings=settings)
        return {"added": len(paths), "updated": 0, "unchanged": 0, "failed": []}

    def search(self, query: str, k: int | None, lang: str | None, where: dict | None, settings: dict) -> list:
        self._record("search", query=query, k=k, lang=lang, where=where, settings=settings)
        hit = {"id": "h1", "source": "/kb/tea.md", "title": "Brewing Green Tea", "lang": "en"}
        return [{**hit, "score": 0.87, "text": f"passage for {query}", "metadata": {}}]

    def ask(self, question: str, lang: str | None, settings: dict) -> dict:
        self._record("ask", question=question, lang=lang, settings=settings)
        source = {"ref": 1, "title": "Brewing Green Tea", "lang": "en", "source": "/kb/tea.md", "score": 0.9}
        answer = {"question": question, "answer": f"A({question})", "lang": lang or "zh", "no_answer": False}
        return answer | {
            "sources": [source],
            "translations": {},
            "timings": {},
            "generation": {},
            "notes": [],
        }

    def translate(self, text: str, source: str | None, target: str, settings: dict) -> str:
        self._record("translate", text=text, source=source, target=target, settings=settings)
        return f"[{target}] {text}"

    def write(
        self, draft: str, lang: str | None, factor: float | None, sections: Any, settings: dict
    ) -> dict:
        self._record("write", draft=draft, lang=lang, factor=factor, sections=sections, settings=settings)
        return {"text": f"# Expanded\n\n{draft.strip()}\n\nMore.", "lang": lang}

    def chat(self, session: str | None, turns: list[str], settings: dict) -> dict:
        self._record("chat", session=session, turns=turns, settings=settings)
        answers = [{"question": t, "answer": f"A({t})", "lang": "de", "sources": []} for t in turns]
        return {"session": session or "s-1", "turns": answers}

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [args for name, args in self.calls if name == kind]


def write_script(folder: Path, text: str, **files: str) -> Path:
    for name, content in files.items():
        (folder / name).write_text(content, encoding="utf-8")
    path = folder / "run.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def invalid(folder: Path, text: str, **files: str) -> str:
    with pytest.raises(ScriptError) as caught:
        load_script(write_script(folder, text, **files))
    return str(caught.value)
