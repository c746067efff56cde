"""Writing assistant and dialogue with the real packaged models on the sample KB."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelrag.stores.langdetect import detect_language
from tests.conftest import SAMPLE_KB

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DRAFT_ZH = (
    "# 绿茶\n\n我每天早上都喝一杯绿茶。以前我总是用刚烧开的水泡茶，茶总是很苦。\n\n"
    "后来朋友告诉我，泡绿茶的水不能太烫。\n"
)


def test_chinese_draft_is_expanded_in_chinese_with_english_background(sample_runtime) -> None:
    result = sample_runtime.writing_assistant().expand(DRAFT_ZH, factor=2.0)
    text = result.render()
    for sentence in (
        "我每天早上都喝一杯绿茶。",
        "以前我总是用刚烧开的水泡茶，茶总是很苦。",
        "后来朋友告诉我，泡绿茶的水不能太烫。",
    ):
        assert sentence in text, "the author's sentences are kept"
    assert not result.unchanged, result.to_dict()
    for addition in result.additions:
        assert detect_language(addition.text) == "zh"
        assert "[" in addition.text
    cited = {
        Path(h.source).relative_to(SAMPLE_KB.resolve()).as_posix() for a in result.additions for h in a.hits
    }
    assert "tea/green-tea-brewing.md" in cited
    assert "## 来源" in text


def test_two_turn_german_dialogue_follow_up_needs_the_first_turn(sample_runtime, tmp_path) -> None:
    from babelrag.stores.sessions import SessionStore

    dialogue = sample_runtime.dialogue()
    sessions = SessionStore(tmp_path)
    session = sessions.new("sample")
    first = dialogue.ask(
        session, "Wie mache ich meinen letzten Commit rückgängig, ohne die Änderungen zu verlieren?"
    )
    sessions.save(session)
    resumed = sessions.load(session.id)
    second = dialogue.ask(resumed, "Und was mache ich, wenn ich ihn schon gepusht habe?")
    assert detect_language(first.answer) == "de" and detect_language(second.answer) == "de"
    standalone = resumed.turns[2].standalone or ""
    assert "commit" in standalone.casefold(), "the follow-up was made standalone with the first turn"
    sources = {Path(s["source"]).name for s in second.sources}
    assert "undo-git-commit.md" in sources
    if "revert" not in second.answer:
        # The mechanics above hold; whether the 0.5B generator then answers the follow-up (push ->
        # git revert) rather than the first question again flips with tiny numeric differences
        # (bf16 vs float32, CPU kernels). Reported as xfail so that it stays visible.
        pytest.xfail(f"the packaged 0.5B generator did not answer the follow-up: {second.answer[:160]!r}")
