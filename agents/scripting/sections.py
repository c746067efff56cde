"""The Markdown section of each step type in the run report, from a record's input and output.

Each step type names its section function in :mod:`~babelrag.agents.scripting.step_types`.
"""

from __future__ import annotations

from typing import Any

SNIPPET_CHARS = 240


def _quote(text: str) -> list[str]:
    return [f"> {line}".rstrip() for line in str(text).strip().splitlines() or [""]] + [""]


def _one_line(text: Any, limit: int = SNIPPET_CHARS) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _source_line(number: int, source: dict[str, Any]) -> str:
    title = source.get("title") or "untitled"
    score = f", score {source['score']:.3f}" if isinstance(source.get("score"), int | float) else ""
    where = f" — `{source['source']}`" if source.get("source") else ""
    return f"{number}. **{title}** ({source.get('lang', '?')}{score}){where}"


def _hits(hits: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for number, hit in enumerate(hits, start=1):
        out.append(_source_line(number, hit))
        if hit.get("text"):
            out.append(f"   {_one_line(hit['text'])}")
    return [*out, ""] if out else ["No passages found.", ""]


def ingest(inp: dict[str, Any], output: Any) -> list[str]:
    out = ["**Paths:** " + ", ".join(f"`{p}`" for p in inp.get("paths", [])), ""]
    for key, value in (output or {}).items():
        if isinstance(value, list | tuple):
            shown = "; ".join(_one_line(v, 120) for v in value[:5]) + (" …" if len(value) > 5 else "")
            out.append(f"- **{key}**: {len(value)}" + (f" ({shown})" if value else ""))
        elif not isinstance(value, dict):
            out.append(f"- **{key}**: {value}")
    return [*out, ""]


def search(inp: dict[str, Any], output: Any) -> list[str]:
    options = ", ".join(f"{k} {inp[k]}" for k in ("k", "lang", "where") if inp.get(k) is not None)
    return [f"**Query:** {inp.get('query')}" + (f" ({options})" if options else ""), "", *_hits(output or [])]


def _answer(result: dict[str, Any]) -> list[str]:
    lang = f" ({result['lang']})" if result.get("lang") else ""
    out = [f"**Answer**{lang}:", "", *_quote(result.get("answer", ""))]
    if result.get("no_answer"):
        out += ["*The knowledge base does not contain an answer.*", ""]
    sources = result.get("sources") or []
    if sources:
        out += ["**Sources:**", ""]
        out += [_source_line(s.get("ref", n), s) for n, s in enumerate(sources, start=1)] + [""]
    return out


def ask(inp: dict[str, Any], output: Any) -> list[str]:
    return [f"**Question:** {inp.get('question')}", "", *_answer(output or {})]


def translate(inp: dict[str, Any], output: Any) -> list[str]:
    source = inp.get("from") or "language detected"
    return [
        f"**Text** ({source}):",
        "",
        *_quote(inp.get("text", "")),
        f"**Translation** ({inp.get('to')}):",
        "",
        *_quote((output or {}).get("text", "")),
    ]


def write(inp: dict[str, Any], output: Any) -> list[str]:
    output = output or {}
    draft = f"`{inp['draft_file']}`" if inp.get("draft_file") else f"{len(inp.get('draft', ''))} characters"
    options = ", ".join(f"{k} {inp[k]}" for k in ("lang", "factor", "sections") if inp.get(k) is not None)
    out = [f"**Draft:** {draft}" + (f" ({options})" if options else ""), ""]
    if output.get("output"):
        out += [f"**Written to:** `{output['output']}`", ""]
    return [*out, "````markdown", str(output.get("text", "")).strip(), "````", ""]


def chat(inp: dict[str, Any], output: Any) -> list[str]:
    output = output or {}
    out = [f"**Session:** `{output.get('session')}`", ""]
    pairs = zip(inp.get("turns", []), output.get("turns", []), strict=False)  # a failed turn ends a chat
    for number, (question, answer) in enumerate(pairs, start=1):
        out += [f"**Turn {number}:** {question}", ""]
        out += _answer(answer if isinstance(answer, dict) else {"answer": answer})
    return out
