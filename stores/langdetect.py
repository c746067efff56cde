"""Which language a text is in, and what the user means by a language name.

CJK is decided by script, which is exact where n-gram models are weakest (short queries);
everything else goes to py3langid, whose model loads on first use, once, behind a lock.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from typing import TYPE_CHECKING

from babelrag.stores.cjk import HAN, JAPANESE_KANA, KOREAN_HANGUL

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

UNDETERMINED = "und"

# code, English name, then other spellings users type (endonyms, ISO 639-2/3 codes).
_LANGUAGES: tuple[tuple[str, ...], ...] = (
    ("af", "Afrikaans", "afr"),
    ("ar", "Arabic", "العربية", "ara"),
    ("bg", "Bulgarian", "български", "bul"),
    ("bn", "Bengali", "বাংলা", "ben", "bangla"),
    ("ca", "Catalan", "català", "cat"),
    ("cs", "Czech", "čeština", "česky", "ces", "cze"),
    ("cy", "Welsh", "cymraeg", "cym", "wel"),
    ("da", "Danish", "dansk", "dan"),
    ("de", "German", "deutsch", "deu", "ger"),
    ("el", "Greek", "ελληνικά", "ell", "gre"),
    ("en", "English", "eng"),
    ("es", "Spanish", "español", "castellano", "spa"),
    ("et", "Estonian", "eesti", "est"),
    ("eu", "Basque", "euskara", "eus", "baq"),
    ("fa", "Persian", "فارسی", "farsi", "fas", "per"),
    ("fi", "Finnish", "suomi", "fin"),
    ("fr", "French", "français", "francais", "fra", "fre"),
    ("ga", "Irish", "gaeilge", "gle"),
    ("gl", "Galician", "galego", "glg"),
    ("he", "Hebrew", "עברית", "heb", "iw"),
    ("hi", "Hindi", "हिन्दी", "हिंदी", "hin"),
    ("hr", "Croatian", "hrvatski", "hrv"),
    ("hu", "Hungarian", "magyar", "hun"),
    ("id", "Indonesian", "bahasa indonesia", "ind", "in"),
    ("is", "Icelandic", "íslenska", "isl", "ice"),
    ("it", "Italian", "italiano", "ita"),
    ("ja", "Japanese", "日本語", "jpn"),
    ("ko", "Korean", "한국어", "조선말", "kor"),
    ("lt", "Lithuanian", "lietuvių", "lit"),
    ("lv", "Latvian", "latviešu", "lav"),
    ("ms", "Malay", "bahasa melayu", "msa", "may"),
    ("nl", "Dutch", "nederlands", "flemish", "nld", "dut"),
    ("no", "Norwegian", "norsk", "nor", "nb", "nob", "nn", "nno", "bokmål", "nynorsk"),
    ("pl", "Polish", "polski", "pol"),
    ("pt", "Portuguese", "português", "portugues", "por"),
    ("ro", "Romanian", "română", "ron", "rum", "moldavian"),
    ("ru", "Russian", "русский", "rus"),
    ("sk", "Slovak", "slovenčina", "slk", "slo"),
    ("sl", "Slovenian", "slovenščina", "slovene", "slv"),
    ("sr", "Serbian", "српски", "srpski", "srp"),
    ("sv", "Swedish", "svenska", "swe"),
    ("sw", "Swahili", "kiswahili", "swa"),
    ("ta", "Tamil", "தமிழ்", "tam"),
    ("th", "Thai", "ไทย", "tha"),
    ("tl", "Tagalog", "filipino", "tgl", "fil"),
    ("tr", "Turkish", "türkçe", "tur"),
    ("uk", "Ukrainian", "українська", "ukr"),
    ("ur", "Urdu", "اردو", "urd"),
    ("vi", "Vietnamese", "tiếng việt", "vie"),
    ("zh", "Chinese", "中文", "汉语", "漢語", "普通话", "mandarin", "zho", "chi", "cmn"),
)
_NAMES = {code: name for code, name, *_ in _LANGUAGES}
_ALIASES = {alias.casefold(): entry[0] for entry in _LANGUAGES for alias in entry}

# py3langid labels that are varieties of a macrolanguage (or the ancient form of one that wins on
# short modern text) are counted as that language; "zxx" means "no linguistic content".
_FOLDED_LABELS = {
    "pcm": "en", "wuu": "zh", "yue": "zh", "ary": "ar", "arz": "ar", "uzs": "uz", "nn": "no",
    "gug": "gn", "sdh": "ku", "grc": "el", "hbo": "he", "zxx": UNDETERMINED,
}  # fmt: skip
# On a few words the model's likelihoods are flat, and small languages that share vocabulary with
# big ones (lb with de, fy with nl) win by chance; this prior favours the languages we name.
_MINOR_LANGUAGE_PRIOR = 0.2
_MIN_CONFIDENCE = 0.3
_SAMPLE_CHARS = 2000

_NOISE = re.compile(
    r"```.*?(?:```|\Z)|`[^`\n]*`"  # code blocks and spans
    r"|\b(?:https?://|www\.)\S+|(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # URLs, e-mail addresses
    r"|\d+(?:[.,:]\d+)*",  # numbers, dates, times
    re.DOTALL,
)
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]+")
_HAN = re.compile(f"[{HAN}]")
_KANA = re.compile(f"[{JAPANESE_KANA}]")
_HANGUL = re.compile(f"[{KOREAN_HANGUL}]")

_identifier: LanguageIdentifier | None = None
_identifier_lock = threading.Lock()


def detect_language(text: str) -> str:
    """ISO 639-1 code of the text's language, or ``"und"`` when there is too little to tell.

    Labels of py3langid that have no ISO 639-1 code (e.g. ``"kab"``) are returned as they are.
    """
    sample = _NOISE.sub(" ", text[: _SAMPLE_CHARS * 4])[:_SAMPLE_CHARS]
    if not any(ch.isalpha() for ch in sample):
        return UNDETERMINED
    by_script = _detect_cjk(sample)
    if by_script is not None:
        return by_script
    scores: dict[str, float] = {}
    for label, probability in _get_identifier().rank(sample):
        code = _FOLDED_LABELS.get(label, label)
        weight = 1.0 if code in _NAMES else _MINOR_LANGUAGE_PRIOR
        scores[code] = scores.get(code, 0.0) + weight * probability
    best = max(scores, key=scores.__getitem__)
    if scores[best] < _MIN_CONFIDENCE * sum(scores.values()):
        return UNDETERMINED
    return best


def _detect_cjk(text: str) -> str | None:
    """Decide by script when CJK characters outweigh Latin words (a Han character is about a word)."""
    han, kana, hangul = (len(pattern.findall(text)) for pattern in (_HAN, _KANA, _HANGUL))
    cjk = han + kana + hangul
    if cjk == 0 or cjk < len(_LATIN_WORD.findall(text)):
        return None
    if hangul > kana and hangul >= han:
        return "ko"
    return "ja" if kana else "zh"


def _get_identifier() -> LanguageIdentifier:
    """Load the py3langid model (about a second) on first use; a private instance, so that nobody
    else's ``set_languages`` can change our answers."""
    global _identifier
    if _identifier is None:
        with _identifier_lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _identifier


def language_name(code: str) -> str:
    """English name for prompts ("answer in German"); an unknown code is returned unchanged."""
    return _NAMES.get(code.strip().lower(), code)


def normalize_language_code(value: str) -> str:
    """ISO 639-1 code for what users type: codes, locale tags, English names and endonyms."""
    key = unicodedata.normalize("NFC", value).strip().casefold()
    if key in _ALIASES:
        return _ALIASES[key]
    primary = re.split(r"[-_@.]", key, maxsplit=1)[0]  # zh-CN, zh_Hant_TW, de_DE.UTF-8
    if primary and primary != key and primary in _ALIASES:
        return _ALIASES[primary]
    known = ", ".join(sorted(_NAMES))
    raise ValueError(
        f"Unknown language {value!r}: use an ISO 639-1 code ({known}), a locale such as 'zh-CN', "
        "or a language name such as 'German' or 'Deutsch'."
    )
