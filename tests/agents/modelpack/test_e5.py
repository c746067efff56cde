"""Compiling e5's normaliser map into a sentencepiece charsmap."""

from __future__ import annotations

import pytest

from babelrag.agents.modelpack.e5 import compile_charsmap

pytestmark = pytest.mark.unit


def test_compiled_charsmap_applies_exactly_the_given_map() -> None:
    from tokenizers import normalizers

    norm = normalizers.Precompiled(compile_charsmap({0xFF21: "A", 0x3000: " ", 0x7: "", 0x2160: "I"}))
    assert norm.normalize_str("Ａ\u3000b\x07Ⅰ") == "A bI"
    assert norm.normalize_str("ｂ") == "ｂ", "characters outside the map are left alone"
