"""``babelrag ingest`` on knowledge-graph dumps, then ``search``: the command line end to end with
the real packaged embedder (grouped language versions, the wrong-format error, bad filters)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.agents.cli.test_cli_real import babelrag
from tests.kg_excerpts import ABSTRACTS_DE, SAME_AS, dump_text, wikidata_entities, write_dump

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def kg_home(tmp_path_factory, e5_embeddings) -> Path:
    tmp = tmp_path_factory.mktemp("kg")
    dump = write_dump(tmp / "latest-all.json.bz2", dump_text(wikidata_entities()))
    proc = babelrag(tmp, "ingest", str(dump), "--wikidata-filter", "P31:Q5,Q515", "--kb", "kg", "--json")
    report = json.loads(proc.stdout)
    assert sorted(report["added"]) == ["wikidata:Q42", "wikidata:Q64"] and not report["failed"]
    abstracts = write_dump(tmp / "long-abstracts_lang=de.ttl.bz2", ABSTRACTS_DE)
    links = write_dump(tmp / "sameas.ttl", SAME_AS)
    proc = babelrag(tmp, "ingest", str(abstracts), str(links), "--kb", "kg", "--json")
    assert len(json.loads(proc.stdout)["added"]) == 3
    return tmp


def test_search_groups_the_language_versions_of_an_entity(kg_home: Path) -> None:
    proc = babelrag(kg_home, "search", "Hauptstadt von Deutschland", "--kb", "kg", "-k", "3", "--json")
    hits = json.loads(proc.stdout)
    berlin = [h for h in hits if h["metadata"].get("entity") == "wikidata:Q64"]
    assert len(berlin) == 1 and berlin[0]["lang"] == "de"
    assert berlin[0]["metadata"]["also_in"] == "en, zh"
    assert len({h["metadata"].get("entity") for h in hits}) == len(hits)

    text = babelrag(kg_home, "search", "Hauptstadt von Deutschland", "--kb", "kg", "-k", "1").stdout
    assert "also in: en, zh" in text


def test_a_file_that_is_not_a_dump_fails_clearly(kg_home: Path) -> None:
    bad = write_dump(kg_home / "records.json.gz", '[\n{"text": "hello"},\n]\n')
    proc = babelrag(kg_home, "ingest", str(bad), "--kb", "kg", check=False)
    assert proc.returncode == 1 and "not a Wikidata JSON dump: line 2" in " ".join(proc.stderr.split())


def test_a_bad_filter_is_one_line_and_exit_1(kg_home: Path) -> None:
    proc = babelrag(kg_home, "ingest", "x.json", "--wikidata-filter", "P31:human", "--kb", "kg", check=False)
    assert proc.returncode == 1 and "--wikidata-filter" in proc.stderr
