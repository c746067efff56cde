"""Prompt templates kept as YAML files, loaded into ``ChatPromptTemplate``.

A template file has ``messages`` (``role`` + ``content`` with f-string ``{variables}``) and
optionally ``description`` and ``variables``. A file of the same name in the user's prompts
folder overrides the built-in one. Variables are checked when a template is loaded, so a typo
is an error naming the file, not a broken answer later; values are substituted, never parsed
as templates, so user text containing ``{`` or ``}`` is safe.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from string import Formatter
from typing import Any

import yaml
from langchain_core.prompts import ChatPromptTemplate

from babelrag.prompts import PROMPTS_DIR
from babelrag.stores.errors import TemplateError
from babelrag.stores.safe_yaml import safe_load

_ROLES = {"system": "system", "user": "human", "human": "human", "assistant": "ai", "ai": "ai"}


def prompt_path(name: str, user_dir: Path | None = None) -> Path:
    """The file that defines template ``name``: the user's override first, else the built-in."""
    for folder in (user_dir, PROMPTS_DIR):
        if folder is None:
            continue
        for suffix in (".yaml", ".yml"):
            candidate = Path(folder) / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
    where = f"{user_dir} or {PROMPTS_DIR}" if user_dir else str(PROMPTS_DIR)
    raise TemplateError(f"no prompt template named {name!r} in {where}")


def load_prompt(name: str, *, variables: Iterable[str], user_dir: Path | None = None) -> ChatPromptTemplate:
    """Load template ``name``; it may use only ``variables`` (what the calling chain provides)."""
    path = prompt_path(name, user_dir)
    messages = _read_messages(path)
    available = set(variables)
    used: set[str] = set()
    for index, (_role, content) in enumerate(messages):
        names = _fields(content, path, index)
        unknown = names - available
        if unknown:
            raise TemplateError(
                f"{path}: message {index + 1} uses {_braced(unknown)}, "
                f"but this template only gets {_braced(available)}",
                hint="write a literal brace as {{ or }}",
            )
        used |= names
    template = ChatPromptTemplate.from_messages(messages, template_format="f-string")
    template.metadata = {"path": str(path), "name": name}
    return template


def load_messages(user_dir: Path | None = None) -> dict[str, dict[str, str]]:
    """Fixed sentences by language (``messages.yaml``); the user's file overrides entries."""
    merged: dict[str, dict[str, str]] = {}
    for folder in (PROMPTS_DIR, user_dir):
        path = Path(folder) / "messages.yaml" if folder else None
        if path is None or not path.is_file():
            continue
        try:
            data = safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise TemplateError(f"cannot read {path}: {exc}") from None
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise TemplateError(f"{path}: expected sections of language: text pairs")
        for section, table in data.items():
            merged.setdefault(str(section), {}).update({str(k): str(v) for k, v in table.items()})
    return merged


def localized(messages: Mapping[str, Mapping[str, str]], key: str, lang: str, default: str) -> str:
    """A fixed sentence of ``messages.yaml`` in ``lang``, else in English, else ``default``."""
    table = messages.get(key, {})
    return table.get(lang) or table.get("en") or default


def render(template: ChatPromptTemplate, **values: Any) -> list:
    """Format to messages; a missing variable is a :class:`TemplateError` naming the file."""
    missing = set(template.input_variables) - set(values)
    if missing:
        path = (template.metadata or {}).get("path", "template")
        raise TemplateError(f"{path}: no value given for {_braced(missing)}")
    return template.format_messages(**values)


def _read_messages(path: Path) -> list[tuple[str, str]]:
    try:
        data = safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"cannot read prompt template {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list) or not data["messages"]:
        raise TemplateError(f"{path}: a prompt template needs a non-empty 'messages' list")
    messages = []
    for index, item in enumerate(data["messages"]):
        if not isinstance(item, dict) or not isinstance(item.get("content"), str):
            raise TemplateError(f"{path}: message {index + 1} needs 'role' and a text 'content'")
        role = _ROLES.get(str(item.get("role", "")).lower())
        if role is None:
            raise TemplateError(
                f"{path}: message {index + 1} has role {item.get('role')!r}; use system, user or assistant"
            )
        messages.append((role, item["content"]))
    return messages


def _fields(content: str, path: Path, index: int) -> set[str]:
    try:
        parsed = list(Formatter().parse(content))
    except ValueError as exc:
        raise TemplateError(
            f"{path}: message {index + 1} is not a valid template ({exc})",
            hint="write a literal brace as {{ or }}",
        ) from None
    names = set()
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise TemplateError(
                f"{path}: message {index + 1} has an unsupported field {{{field}}}; "
                "use plain {name} variables"
            )
        names.add(field)
    return names


def _braced(names: Iterable[str]) -> str:
    return ", ".join("{" + n + "}" for n in sorted(names)) or "no variables"
