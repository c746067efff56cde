"""Which characters are CJK, in one place: Han, kana and Hangul, as regex classes and tests.

Chinese and Japanese are written without spaces between words; Korean puts spaces between
words but its syllable blocks still need their own tokens. Chunking, lexical tokens, word
counts, joining sentences and language detection all depend on this, and one definition keeps
their decisions consistent.
"""

from __future__ import annotations

import re
import unicodedata

#: Han ideographs: unified, extension A, compatibility, and the supplementary-plane extensions.
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U000323af"
#: Hiragana and katakana (with the phonetic-extension and half-width blocks).
KANA = "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9d"
#: Hangul syllables.
HANGUL = "\uac00-\ud7a3"
#: Kana that only Japanese writes, for telling Japanese from Chinese: ・ and ー are left out,
#: since Chinese writes foreign names with them too.
JAPANESE_KANA = "\u3041-\u3096\u30a1-\u30fa\u31f0-\u31ff\uff66-\uff9d"
#: Hangul syllables and jamo, for telling Korean apart.
KOREAN_HANGUL = HANGUL + "\u1100-\u11ff\u3131-\u318e"
#: Scripts written without spaces between words (Chinese, Japanese).
UNSPACED = HAN + KANA
#: Every CJK character, for a regex character class.
CJK = UNSPACED + HANGUL

_UNSPACED_CHAR = re.compile(f"[{UNSPACED}]")
_CJK_CHAR = re.compile(f"[{CJK}]")
_WORD = re.compile(rf"[{UNSPACED}]|[^\W\d_]+")


def is_wide(char: str) -> bool:
    """East Asian wide or full-width (CJK characters and punctuation such as 。): a line break
    between two of these joins without a space."""
    return unicodedata.east_asian_width(char) in ("W", "F")


def cjk_count(text: str) -> int:
    """Han, kana and Hangul characters in ``text``."""
    return len(_CJK_CHAR.findall(text))


def is_unspaced(text: str, share: float = 1 / 3) -> bool:
    """Whether more than ``share`` of the characters are Han or kana: such text joins without spaces."""
    return len(_UNSPACED_CHAR.findall(text)) > len(text) * share


def join_sentences(sentences: list[str]) -> str:
    """Sentences joined as the script writes them: no space in Chinese or Japanese, one elsewhere."""
    joined = " ".join(sentences)
    return "".join(sentences) if is_unspaced(joined) else joined


def word_count(text: str) -> int:
    """Words, counting each Han or kana character as one (about what a word is worth there)."""
    return len(_WORD.findall(text))
