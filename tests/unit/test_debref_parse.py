"""Debian Reference sections parsed from markup like the real DocBook XSL output, and aligned.

The two pages below copy the structure of ``ch01.en.html`` / ``ch01.de.html`` of
debian-reference 2.100 (navigation, table of contents, ``<a id="…"/>`` in the headings,
admonitions, screens); no network is used.
"""

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
from babelrag.agents.evaluation.debref_html import parse_manual, parse_sections, strip_numbering

pytestmark = pytest.mark.unit

LONG_EN = "Upon starting the system, you are presented with the character based login screen. " * 3
LONG_EN2 = "Virtual consoles let you run several logins at once on one screen of a text mode system. " * 3
LONG_EN3 = "The tmpfs filesystem keeps all of its files in virtual memory instead of on a disk. " * 3
LONG_DE = "Nach dem Start des Systems sehen Sie den zeichenbasierten Anmeldebildschirm. " * 3
LONG_DE2 = "Mit virtuellen Konsolen können Sie mehrere Anmeldungen gleichzeitig nutzen. " * 3


def _section(level: int, anchor: str, title: str, body: str) -> str:
    return f"""<div class="section"><div class="titlepage"><div><div>
      <h{level} class="title"><a id="{anchor}"/>{title}</h{level}></div></div></div>
      {body}"""


def page(lang: str, chapter: str, titles: dict[str, str], texts: dict[str, str], extra: str = "") -> str:
    prompt = f"""<p>{texts["_the_shell_prompt"]} Your host is <code class="literal">foo</code>.</p>
      <div class="note"><table border="0" summary="Note"><tr><th align="left">Note</th></tr>
        <tr><td><p>{texts["note"]}</p></td></tr></table></div>
      <pre class="screen">foo login:</pre>"""
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>{chapter}</title></head><body>
<div class="navheader"><table><tr><th colspan="3">{chapter}</th></tr></table><hr/></div>
<div class="chapter"><div class="titlepage"><div><div>
  <h1 class="title"><a id="_tutorials"/>{chapter}</h1></div></div></div>
  <div class="toc"><p><strong>Table of Contents</strong></p><dl class="toc"><dt><span class="section">
    <a href="ch01.{lang}.html#_console_basics">1.1. {titles["_console_basics"]}</a></span></dt></dl></div>
  <p>{texts["_tutorials"]}</p>
  {_section(2, "_console_basics", "1.1. " + titles["_console_basics"], "")}
    {_section(3, "_the_shell_prompt", "1.1.1. " + titles["_the_shell_prompt"], prompt)}
    </div>
    {_section(3, "_virtual_consoles", "1.1.2. " + titles["_virtual_consoles"], f"<p>{texts['_vc']}</p>")}
    </div>
    {_section(3, "_tmpfs", "1.1.3. " + titles["_tmpfs"], texts["_tmpfs"])}
    </div>
  </div>
  {extra}
</div>
<div class="navfooter"><a href="ch02.{lang}.html">Next</a></div>
</body></html>"""


EN = page(
    "en",
    "Chapter 1. GNU/Linux tutorials",
    {
        "_console_basics": "Console basics",
        "_the_shell_prompt": "The shell prompt",
        "_virtual_consoles": "Virtual consoles",
        "_tmpfs": "tmpfs",
    },
    {
        "_tutorials": "Short intro.",
        "_the_shell_prompt": LONG_EN,
        "note": "Usernames are case sensitive.",
        "_vc": LONG_EN2,
        "_tmpfs": f"<p>{LONG_EN3}</p><p>Second paragraph.</p>",
    },
    extra=_section(2, "_english_only", "1.2. Only in English", f"<p>{LONG_EN}</p>") + "</div>",
)
DE = page(
    "de",
    "Kapitel 1. GNU/Linux-Lehrstunde",
    {
        "_console_basics": "Grundlagen für die Konsole",
        "_the_shell_prompt": "Die Shell-Eingabeaufforderung",
        "_virtual_consoles": "Virtuelle Konsolen",
        "_tmpfs": "tmpfs",  # left untranslated, as the real German title is
    },
    {
        "_tutorials": "Kurze Einleitung.",
        "_the_shell_prompt": LONG_DE,
        "note": "Benutzernamen unterscheiden Groß- und Kleinschreibung.",
        "_vc": LONG_DE2,
        # po4a left the first paragraph in English: no translated opening
        "_tmpfs": f"<p>{LONG_EN3}</p><p>Zweiter Absatz auf Deutsch.</p>",
    },
)


class TestParse:
    def test_sections_titles_and_own_text(self) -> None:
        sections = {s.id: s for s in parse_sections(EN, "ch01.en.html")}
        expected = ["_tutorials", "_console_basics", "_the_shell_prompt", "_virtual_consoles", "_tmpfs"]
        assert list(sections) == [*expected, "_english_only"]
        chapter, basics = sections["_tutorials"], sections["_console_basics"]
        prompt = sections["_the_shell_prompt"]
        assert (chapter.title, chapter.level) == ("GNU/Linux tutorials", 1)
        assert chapter.text == "Short intro."  # no navigation, heading or table of contents
        # "Console basics" has subsections but no text of its own
        assert (basics.title, basics.level, basics.text) == ("Console basics", 2, "")
        assert (prompt.title, prompt.level, prompt.file) == ("The shell prompt", 3, "ch01.en.html")
        assert prompt.blocks == [
            LONG_EN.strip() + " Your host is foo.",
            "Note",
            "Usernames are case sensitive.",
            "foo login:",
        ]
        assert prompt.paragraphs == [LONG_EN.strip() + " Your host is foo."]  # not the note's paragraph
        assert sections["_english_only"].level == 2

    def test_manual_reads_pages_in_reading_order(self, tmp_path: Path) -> None:
        (tmp_path / "ch01.de.html").write_text(DE, encoding="utf-8")
        preface = _section(2, "_preface_x", "1. Vorwort", "<p>x</p></div>")
        (tmp_path / "pr01.de.html").write_text(preface, encoding="utf-8")
        (tmp_path / "ch01.en.html").write_text(EN, encoding="utf-8")
        manual = parse_manual(tmp_path, "de")
        assert list(manual)[:2] == ["_preface_x", "_tutorials"] and "_english_only" not in manual
        assert manual["_virtual_consoles"].title == "Virtuelle Konsolen"

    @pytest.mark.parametrize(
        ("title", "level", "expected"),
        [
            ("1.1.1. The shell prompt", 3, "The shell prompt"),
            ("A.1. Debian 迷宫", 2, "Debian 迷宫"),
            ("3. About this document", 2, "About this document"),
            ("Chapter 1. GNU/Linux tutorials", 1, "GNU/Linux tutorials"),
            ("Anhang A. Anhang", 1, "Anhang"),
            ("第 1 章 GNU/Linux 教程", 1, "GNU/Linux 教程"),
            ("第12章 プログラミング", 1, "プログラミング"),
            ("付録A 補遺", 1, "補遺"),
            ("章 1. GNU/Linux 教學", 1, "GNU/Linux 教學"),
            ("Preface", 1, "Preface"),
            ("2.1.  Debian\n  package", 2, "Debian package"),
        ],
    )
    def test_strip_numbering(self, title: str, level: int, expected: str) -> None:
        assert strip_numbering(title, level) == expected


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
