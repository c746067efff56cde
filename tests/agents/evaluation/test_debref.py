"""Debian Reference test sets: sections aligned across languages, openings, packages fetched."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelrag.agents.evaluation import debfetch
from babelrag.agents.evaluation.beir import EvalDataError
from babelrag.agents.evaluation.debfetch import AptCache, DebianPackageError, UnknownPackageError
from babelrag.agents.evaluation.debref import (
    TargetLanguageCheck,
    build_dataset,
    build_debref,
    debref_package_suffix,
    opening,
)
from babelrag.agents.evaluation.debref_html import parse_sections
from tests.agents.evaluation.debref_pages import (
    DE,
    EN,
    LONG_DE2,
)

pytestmark = pytest.mark.unit


def _pair() -> tuple[dict, dict]:
    english = {s.id: s for s in parse_sections(EN)}
    german = {s.id: s for s in parse_sections(DE)}
    return english, german


def _not_english(text: str) -> bool:
    """A fake language check: the English test texts all contain one of these words."""
    return not any(word in text.split() for word in ("The", "Virtual", "tmpfs", "filesystem"))


class TestBuildDataset:
    def test_titles_variant(self) -> None:
        english, german = _pair()
        data, skipped = build_dataset(english, german, suffix="de", in_target_language=_not_english)
        # Corpus: sections with >= 200 characters of their own text (intro and "Console basics" are short).
        assert sorted(data.corpus) == ["_english_only", "_the_shell_prompt", "_tmpfs", "_virtual_consoles"]
        assert data.corpus["_tmpfs"].lang == "en" and data.corpus["_tmpfs"].title == "tmpfs"
        assert data.queries["de:_virtual_consoles"].text == "Virtuelle Konsolen"
        assert data.queries["de:_virtual_consoles"].lang == "de"
        assert data.qrels == {
            "de:_the_shell_prompt": {"_the_shell_prompt": 1},
            "de:_virtual_consoles": {"_virtual_consoles": 1},
        }
        assert skipped == {
            "too short in English": 2,
            "not in the translation": 1,  # _english_only
            "untranslated": 1,  # "tmpfs"
            "not in the target language": 0,
        }

    def test_openings_variant_stops_at_untranslated_paragraphs(self) -> None:
        english, german = _pair()
        data, skipped = build_dataset(
            english, german, suffix="de", variant="openings", in_target_language=_not_english
        )
        assert set(data.queries) == {"de:_the_shell_prompt", "de:_virtual_consoles"}
        assert data.queries["de:_virtual_consoles"].text == opening(LONG_DE2)
        assert skipped["untranslated"] == 1  # _tmpfs opens with its English paragraph

    def test_wrong_language_is_dropped(self) -> None:
        english, german = _pair()
        data, skipped = build_dataset(english, german, suffix="de", in_target_language=lambda text: False)
        assert not data.queries and skipped["not in the target language"] == 2

    def test_unknown_variant(self) -> None:
        with pytest.raises(EvalDataError, match="titles, openings"):
            build_dataset({}, {}, suffix="de", variant="paragraphs")

    def test_real_language_check(self) -> None:
        check = TargetLanguageCheck("de")
        assert check("Virtuelle Konsolen")  # py3langid alone says "und" on this
        assert check("Die Shell-Eingabeaufforderung auf einem GUI-System")
        assert not check("Virtual consoles and the login shell")
        assert TargetLanguageCheck("zh")("虚拟控制台")


class TestOpening:
    def test_cut_after_a_sentence(self) -> None:
        text = "First sentence is here. " * 12  # 24 characters each
        # 8 sentences end at 191 characters, the last sentence end before 200
        assert opening(text) == ("First sentence is here. " * 8).strip()

    def test_chinese_sentence_ends_need_no_space(self) -> None:
        text = "这是一个句子。" * 40  # 7 characters each
        assert opening(text) == "这是一个句子。" * 28  # 196 characters

    def test_without_sentence_ends_cut_at_a_space(self) -> None:
        text = "word " * 100
        assert opening(text) == ("word " * 40).strip()  # 199 characters: the last space before 200
        assert opening("short text.") == "short text."


class TestLanguagesAndFetching:
    @pytest.mark.parametrize(
        ("lang", "suffix"),
        [("zh-cn", "zh-cn"), ("zh_CN", "zh-cn"), ("zh", "zh-cn"), ("DE", "de"), ("pt-BR", "pt-br")],
    )
    def test_language_codes(self, lang: str, suffix: str) -> None:
        assert debref_package_suffix(lang) == suffix

    def test_unknown_language_lists_the_available_ones(self) -> None:
        with pytest.raises(EvalDataError, match=r"no 'ko' translation; available: de, es, fr, id, it, ja"):
            debref_package_suffix("ko")
        with pytest.raises(EvalDataError, match="English is the corpus language"):
            debref_package_suffix("en")

    def test_missing_package_names_the_packaged_languages(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def download(self: AptCache, package: str) -> Path:
            raise UnknownPackageError(f"apt-get download failed: E: Unable to locate package {package}")

        monkeypatch.setattr(AptCache, "download", download)
        names = [f"debian-reference-{suffix}" for suffix in ("common", "de", "en", "fr")]
        monkeypatch.setattr(AptCache, "package_names", lambda self, prefix: names)
        with pytest.raises(EvalDataError) as info:
            build_debref("it", tmp_path / "out", cache_dir=tmp_path)
        assert info.value.message == (
            "apt-get download failed: E: Unable to locate package debian-reference-it; "
            "the Debian Reference is packaged for: de, fr"
        )

    def test_missing_apt_get_says_what_to_do(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(debfetch.shutil, "which", lambda name: None)
        with pytest.raises(DebianPackageError, match="apt-get is not installed") as info:
            AptCache(tmp_path).download("debian-reference-en")
        assert str(tmp_path / "debs") in (info.value.hint or "")

    def test_a_deb_placed_by_hand_is_used(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(debfetch.shutil, "which", lambda name: None)  # no apt: must not be needed
        (tmp_path / "debs").mkdir()
        deb = tmp_path / "debs" / "debian-reference-en_2.100_all.deb"
        deb.write_bytes(b"!<arch>\n")
        assert AptCache(tmp_path).download("debian-reference-en") == deb
        assert debfetch.deb_version(deb) == "2.100"
