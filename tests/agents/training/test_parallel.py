"""Parallel pairs from gettext catalogs: real .mo files the test compiles, filters, TSV round trip."""

from __future__ import annotations

import gzip
import string
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from babelrag.agents.cli import app
from babelrag.agents.training.distill import sample_pairs
from babelrag.agents.training.parallel import (
    dictionary_language,
    dictionary_terms,
    harvest,
    keep_pair,
    locale_names,
    read_dictionary,
    read_tsv,
    write_tsv,
)
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


def b64(n: int) -> str:
    digits = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
    out = ""
    while True:
        out = digits[n % 64] + out
        n //= 64
        if not n:
            return out


def write_dictd(path: Path, entries: list[str]) -> Path:
    """A dictd dictionary as FreeDict ships it: gzip data of entries, an index of base64 offsets."""
    data, index, offset = b"", [], 0
    for entry in ["00-database-info\nGerman - English\n", *entries]:
        raw = entry.encode()
        index.append(f"{entry.split(' ')[0].split(chr(10))[0].lower()}\t{b64(offset)}\t{b64(len(raw))}")
        data, offset = data + raw, offset + len(raw)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data))
    path.with_name(path.name.removesuffix(".dict.dz") + ".index").write_text("\n".join(index) + "\n")
    return path


GERMAN = [
    "Datensicherung /ˈdaːtn̩/ <fem, n, sg>\nbackup <n>\n   Synonyms: {Sicherung}\n\n see: {Backups}\n",
    "Datensicherungen /ˈdaːtn̩/ <pl>\nbackups\n",  # a plural: not kept
    "Zwischenablage /ˈtsvɪʃn̩/ <fem, n, sg>\n1. [comp.] clipboard <n>, clip board\n2. tray\n",
    "Ofenrohr /ˈoːfn̩/ <n>\nstovepipe\n",  # not in the catalogs
    "Computer /kɔmˈpjuːtɐ/ <masc, n, sg>\ncomputer\n",  # its own translation
    "Einzug /ˈaɪ̯nt͡suːk/ <masc, n, sg>\nmoving in, indentation\n",  # the first sense that occurs
    "Schublade /ˈʃuːp/ <fem, n, sg>\ndrawer\n",  # the English is not in the catalogs
]


def test_dictionary_terms_are_the_catalogs_own_vocabulary(tmp_path: Path) -> None:
    path = write_dictd(tmp_path / "freedict-deu-eng.dict.dz", GERMAN)
    assert dictionary_language(path) == "de" and dictionary_language(tmp_path / "words.dict.dz") is None
    entries = {head: (tags, senses) for head, tags, senses in read_dictionary(path)}
    assert entries["Datensicherung"] == (frozenset({"fem", "n", "sg"}), ["backup"])
    assert entries["Zwischenablage"][1] == ["clipboard", "clip board"]  # numbering, notes, tags dropped
    rows = [
        ("de", "Restore the backup from the clipboard", "Datensicherung aus der Zwischenablage", "app"),
        ("de", "Computer indentation here", "Computer Einzug Datensicherungen Schublade", "app"),
        ("ja", "Copy to the clipboard", "クリップボードにコピー", "app"),
    ]
    terms = dictionary_terms(path, "de", rows)
    assert sorted(terms) == [
        ("de", "backup", "Datensicherung", "dictionary:freedict-deu-eng"),
        ("de", "clipboard", "Zwischenablage", "dictionary:freedict-deu-eng"),
        ("de", "indentation", "Einzug", "dictionary:freedict-deu-eng"),
    ]
    # the terms are a share of their own: beside thousands of sentences they are not drowned
    sentences = [("de", f"sentence {i}", f"Satz {i}", "app") for i in range(100)]
    picked = sample_pairs(sentences + terms, 6, seed=1)
    assert sorted(r[3] for r in picked).count("dictionary:freedict-deu-eng") == 3


def test_fetch_parallel_adds_dictionary_terms_and_bad_dictionaries_are_errors(tmp_path: Path) -> None:
    locale = tmp_path / "locale"
    write_mo(
        locale / "de" / "LC_MESSAGES" / "app.mo",
        {"Restore the backup now": "Datensicherung wiederherstellen"},
    )
    path = write_dictd(tmp_path / "dictd" / "freedict-deu-eng.dict.dz", GERMAN)

    def fetch(*args: str):
        out = tmp_path / "pairs.tsv"
        return CliRunner().invoke(
            app, ["--quiet", "--home", str(tmp_path / "home"), "train", "fetch-parallel", str(out),
                  "--from", str(locale), *args],
        ), out  # fmt: skip

    result, out = fetch("--langs", "de", "--dictionary", str(path))
    assert result.exit_code == 0, result.output
    assert "dictionary terms" in result.output and "de 1" in result.output
    assert ("de", "backup", "Datensicherung", "dictionary:freedict-deu-eng") in list(read_tsv(out))
    renamed = write_dictd(tmp_path / "words.dict.dz", GERMAN)
    result, _ = fetch("--langs", "de", "--dictionary", f"de={renamed}")
    assert result.exit_code == 0, result.output
    for args, message in [
        (["--langs", "de", "--dictionary", str(renamed)], "which language"),
        (["--langs", "ja", "--dictionary", str(path)], "not in --langs"),
        (["--langs", "de", "--dictionary", str(tmp_path / "none.dict.dz")], "no such dictionary"),
    ]:
        result, _ = fetch(*args)
        assert isinstance(result.exception, BabelragError) and message in str(result.exception)
    damaged = bytearray(path.read_bytes())
    damaged[10:30] = b"\xff" * 20  # a deflate stream that does not decode
    broken = tmp_path / "broken" / "freedict-deu-eng.dict.dz"
    broken.parent.mkdir()
    broken.write_bytes(bytes(damaged))
    path.with_name("freedict-deu-eng.index").replace(broken.with_name("freedict-deu-eng.index"))
    result, _ = fetch("--langs", "de", "--dictionary", str(broken))
    assert isinstance(result.exception, BabelragError) and "cannot read the dictionary" in str(
        result.exception
    )
    broken.with_name("freedict-deu-eng.index").replace(path.with_name("freedict-deu-eng.index"))
    path.with_name("freedict-deu-eng.index").unlink()
    result, _ = fetch("--langs", "de", "--dictionary", str(path))
    assert isinstance(result.exception, BabelragError)
    assert "freedict-deu-eng.index" in str(result.exception)  # the hint names the missing index
