"""Debian Reference sections parsed from markup like the real DocBook XSL output."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelrag.agents.evaluation.debref_html import parse_manual, parse_sections, strip_numbering
from tests.agents.evaluation.debref_pages import (
    DE,
    EN,
    LONG_EN,
    section_html,
)

pytestmark = pytest.mark.unit


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
        preface = section_html(2, "_preface_x", "1. Vorwort", "<p>x</p></div>")
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
