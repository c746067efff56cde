"""Parallel pairs from gettext catalogs: real .mo files the test compiles, filters, TSV round trip."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from babelrag.agents.training.parallel import harvest, keep_pair, locale_names, read_tsv, write_tsv
from babelrag.stores.errors import BabelragError

pytestmark = pytest.mark.unit


def write_mo(path: Path, messages: dict[str, str]) -> None:
    """A GNU .mo file (what msgfmt writes): header, sorted ids, string tables."""
    entries = {"": "Content-Type: text/plain; charset=UTF-8\n", **messages}
    keys = sorted(entries)
    ids = b"".join(k.encode() + b"\0" for k in keys)
    strs = b"".join(entries[k].encode() + b"\0" for k in keys)
    n = len(keys)
    start = 7 * 4 + 16 * n
    offsets, o = [], 0
    for k in keys:
        offsets += [len(k.encode()), start + o]
        o += len(k.encode()) + 1
    trans, o = [], 0
    for k in keys:
        trans += [len(entries[k].encode()), start + len(ids) + o]
        o += len(entries[k].encode()) + 1
    header = struct.pack("Iiiiiii", 0x950412DE, 0, n, 7 * 4, 7 * 4 + 8 * n, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        header + struct.pack(f"{2 * n}i", *offsets) + struct.pack(f"{2 * n}i", *trans) + ids + strs
    )


def test_pairs_are_filtered_deduplicated_and_keep_their_catalog(tmp_path: Path) -> None:
    locale = tmp_path / "locale"
    write_mo(
        locale / "de" / "LC_MESSAGES" / "apt.mo",
        {
            "Unable to open the package list": "Paketliste kann nicht geöffnet werden",
            "_Open the file": "Datei ö_ffnen",  # mnemonics are removed
            "Cannot open %s": "%s kann nicht geöffnet werden",  # placeholder
            "OK": "OK",  # too short
            "Connection refused by server": "Connection refused by server",  # untranslated
            "<b>Bold</b> text here": "<b>Fett</b> hier",  # markup
        },
    )
    write_mo(
        locale / "de_DE" / "LC_MESSAGES" / "dpkg.mo",
        {"Unable to open the package list": "Die Paketliste lässt sich nicht öffnen"},  # duplicate English
    )
    write_mo(
        locale / "de" / "LC_MESSAGES" / "debian-reference.mo", {"The Debian system": "Das Debian-System"}
    )
    write_mo(
        locale / "ja" / "LC_MESSAGES" / "apt.mo",
        {"Unable to open the package list": "パッケージ一覧を開けません"},
    )
    rows, report = harvest(["de", "ja"], [locale])
    assert sorted(rows) == [
        ("de", "Open the file", "Datei öffnen", "apt"),
        ("de", "Unable to open the package list", "Paketliste kann nicht geöffnet werden", "apt"),
        ("ja", "Unable to open the package list", "パッケージ一覧を開けません", "apt"),
    ]
    assert report.pairs == {"de": 2, "ja": 1} and report.catalogs == {"de": 2, "ja": 1}  # no debian-reference
    assert report.dropped["duplicate"] == 1 and report.dropped["placeholder or markup"] == 2
    out = tmp_path / "pairs.tsv"
    assert write_tsv(rows, out) == 3
    assert sorted(read_tsv(out)) == sorted(rows)


def test_filters_and_locale_names() -> None:
    assert keep_pair("Unable to open the file", "Datei nicht lesbar") is None
    assert keep_pair("Save {name} now please", "Jetzt {name} speichern") == "placeholder or markup"
    assert keep_pair("Press %MOD1+V to paste", "Mit %MOD1+V einfügen") == "placeholder or markup"
    assert keep_pair("Welcome to %PRODUCTNAME Writer", "Willkommen bei %PRODUCTNAME Writer") is not None
    assert keep_pair("Read from $(ARG1) today", "Heute aus $(ARG1) lesen") == "placeholder or markup"
    assert keep_pair("Quit", "Beenden") == "too short"
    assert locale_names("zh-tw") == ["zh_TW"] and locale_names("de") == ["de", "de_DE"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("a\tb\n", "expected the columns"),
        ("lang\tenglish\ttranslation\nde\t\tx\n", "line 2"),
    ],
)
def test_a_bad_tsv_is_an_error_naming_the_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(BabelragError, match=message):
        list(read_tsv(path))
