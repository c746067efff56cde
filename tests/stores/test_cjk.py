"""Which characters are CJK: one definition for joining, counting and tokenizing."""

from __future__ import annotations

import pytest

from babelrag.stores.cjk import cjk_count, is_unspaced, is_wide, join_sentences, word_count

pytestmark = pytest.mark.unit


def test_chinese_and_japanese_join_without_spaces_korean_and_latin_with() -> None:
    assert join_sentences(["绿茶用80度的水。", "浸泡两分钟。"]) == "绿茶用80度的水。浸泡两分钟。"
    assert join_sentences(["お茶を入れます。", "二分待ちます。"]) == "お茶を入れます。二分待ちます。"
    assert join_sentences(["녹차는 80도입니다.", "2분 우립니다."]) == "녹차는 80도입니다. 2분 우립니다."
    assert join_sentences(["Green tea.", "Two minutes."]) == "Green tea. Two minutes."


def test_counts() -> None:
    assert cjk_count("绿茶 tea お茶 녹차 𠀀") == 7, "Han (with extension B), kana and Hangul"
    assert word_count("I like 绿茶.") == 4, "each Han character counts as a word"
    assert word_count("녹차를 좋아해요") == 2, "Korean is counted by words"
    assert is_unspaced("这是中文，只有一个 word") and not is_unspaced("English with 一 character")


def test_wide_characters_include_cjk_punctuation() -> None:
    assert is_wide("。") and is_wide("中") and is_wide("Ａ") and not is_wide("a") and not is_wide(".")
