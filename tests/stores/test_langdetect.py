from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from babelrag.stores import langdetect
from babelrag.stores.langdetect import detect_language, language_name, normalize_language_code

pytestmark = pytest.mark.unit


class TestDetectLanguage:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("Wie lange soll man grünen Tee ziehen lassen?", "de"),
            ("How do I undo my last git commit?", "en"),
            ("绿茶应该用多少度的水冲泡？", "zh"),
            ("Comment réparer un pneu crevé ?", "fr"),
            ("¿Dónde está la estación?", "es"),
            ("Come si fa la pizza?", "it"),
            ("Как это работает?", "ru"),
            ("Kaffee oder Tee?", "de"),  # py3langid alone says Luxembourgish
            ("日本の首都はどこですか？", "ja"),
            ("東京都知事選挙の結果", "ja"),  # one kana among kanji is enough
            ("한국의 수도는 어디입니까?", "ko"),
            ("如何在 Kubernetes 中配置 Ingress Controller？", "zh"),
            ("用 git reset --soft HEAD~1 撤销上一次提交", "zh"),
            ("史蒂夫・乔布斯是谁？", "zh"),  # the katakana middle dot is Chinese punctuation too
            ("The word 茶 means tea in Chinese.", "en"),
            ("Wie mache ich `git reset --soft HEAD~1` rückgängig?", "de"),
        ],
    )
    def test_short_queries(self, text: str, expected: str) -> None:
        assert detect_language(text) == expected

    @pytest.mark.parametrize(
        "text", ["", "   \n", "12345 3.14 2024-05-01", "https://example.com/docs", "`ls -la`"]
    )
    def test_text_without_words_is_undetermined(self, text: str) -> None:
        assert detect_language(text) == "und"

    @pytest.mark.parametrize("text", ["git reset", "Python", "ok", "e.g.", "HEAD~1"])
    def test_ambiguous_text_gives_some_code(self, text: str) -> None:
        code = detect_language(text)
        assert isinstance(code, str)
        assert code.isalpha() and code.islower()

    def test_long_text_is_judged_by_its_beginning(self) -> None:
        german = "Grüner Tee wird am besten mit Wasser von etwa achtzig Grad aufgegossen. " * 30
        english = "Green tea is best brewed with water at about eighty degrees. " * 300
        assert detect_language(german + english) == "de"

    def test_variants_are_reported_as_their_macrolanguage(self) -> None:
        assert detect_language("How do I undo my last git commit? Tell me now please.") == "en"
        assert detect_language("مرحبا كيف حالك؟ أريد أن أتعلم اللغة العربية") == "ar"

    def test_model_is_not_loaded_at_import(self) -> None:
        code = "import sys, babelrag.stores.langdetect; print('py3langid' in sys.modules)"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert result.stdout.strip() == "False"

    def test_model_is_loaded_once_by_concurrent_callers(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from py3langid.langid import LanguageIdentifier

        loads: list[int] = []

        class FakeIdentifier:
            def rank(self, text: str) -> list[tuple[str, float]]:
                return [("de", 0.9), ("en", 0.1)]

        def slow_load(cls: type, *args: object, **kwargs: object) -> FakeIdentifier:
            loads.append(1)
            time.sleep(0.05)
            return FakeIdentifier()

        monkeypatch.setattr(langdetect, "_identifier", None)
        monkeypatch.setattr(LanguageIdentifier, "from_model_file", classmethod(slow_load))
        results: list[str] = []
        threads = [
            threading.Thread(target=lambda: results.append(detect_language("irgendein Text")))
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == ["de"] * 8
        assert len(loads) == 1


class TestLanguageNames:
    @pytest.mark.parametrize(
        ("code", "name"),
        [("zh", "Chinese"), ("de", "German"), ("en", "English"), ("ja", "Japanese"), ("ko", "Korean")],
    )
    def test_known_codes(self, code: str, name: str) -> None:
        assert language_name(code) == name

    def test_at_least_thirty_languages_are_named(self) -> None:
        codes = [
            "ar",
            "bg",
            "ca",
            "cs",
            "da",
            "de",
            "el",
            "en",
            "es",
            "et",
            "fa",
            "fi",
            "fr",
            "he",
            "hi",
            "hr",
        ]
        codes += [
            "hu",
            "id",
            "it",
            "ja",
            "ko",
            "lt",
            "lv",
            "nl",
            "no",
            "pl",
            "pt",
            "ro",
            "ru",
            "sk",
            "sl",
            "sr",
        ]
        codes += ["sv", "th", "tr", "uk", "vi", "zh"]
        assert all(language_name(code) != code for code in codes)

    def test_unknown_code_is_returned_unchanged(self) -> None:
        assert language_name("kab") == "kab"
        assert language_name("und") == "und"


class TestNormalizeLanguageCode:
    @pytest.mark.parametrize(
        ("value", "code"),
        [
            ("zh", "zh"),
            ("EN", "en"),
            (" de ", "de"),
            ("zh-CN", "zh"),
            ("zh_cn", "zh"),
            ("zh-Hant-TW", "zh"),
            ("pt_BR", "pt"),
            ("de_DE.UTF-8", "de"),
            ("Chinese", "zh"),
            ("german", "de"),
            ("Deutsch", "de"),
            ("Français", "fr"),
            ("español", "es"),
            ("日本語", "ja"),
            ("한국어", "ko"),
            ("中文", "zh"),
            ("deu", "de"),
            ("nb", "no"),
        ],
    )
    def test_codes_locales_and_names(self, value: str, code: str) -> None:
        assert normalize_language_code(value) == code

    @pytest.mark.parametrize("value", ["", "  ", "xx", "Klingon", "english please", "-CN"])
    def test_unknown_values_are_rejected_with_guidance(self, value: str) -> None:
        with pytest.raises(ValueError, match=r"Unknown language .*ISO 639-1"):
            normalize_language_code(value)

    def test_every_named_language_round_trips(self) -> None:
        for code in ["zh", "de", "en", "fr", "ja", "ko", "ru", "es", "pt", "it", "nl", "ar"]:
            assert normalize_language_code(language_name(code)) == code
