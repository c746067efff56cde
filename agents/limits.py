"""Checks of what a user types against the configured limits, before any model runs.

An empty or blank query used to return arbitrary passages (``search ""``) or run the generator on
nothing (``ask "   "``); a pasted book as a query costs minutes for an answer about its first
512 tokens. Both are refused with a message that names the limit and its setting.
"""

from __future__ import annotations

from babelrag.agents.config import Settings
from babelrag.stores.errors import ConfigError


def check_query(text: str, settings: Settings, *, what: str = "query") -> str:
    """``text`` stripped, or a :class:`ConfigError` if it is blank or longer than the limit."""
    stripped = text.strip()
    if not stripped:
        raise ConfigError(
            f"the {what} is empty", hint=f"type what to look for, e.g. babelrag {_example(what)}"
        )
    limit = settings.search.max_query_chars
    if len(stripped) > limit:
        raise ConfigError(
            f"the {what} is {len(stripped)} characters long; the limit is {limit}",
            hint="shorten it, or raise search.max_query_chars (env BABELRAG_SEARCH__MAX_QUERY_CHARS)",
        )
    return stripped


def _example(what: str) -> str:
    return 'ask "How hot should the water for green tea be?"' if what == "question" else 'search "green tea"'
