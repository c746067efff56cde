"""Wikidata dumps: documents per entity and language, labels resolved, filters, updates, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelrag.stores.errors import ConfigError, UnreadableFileError
from babelrag.stores.fakes import KeywordEmbeddings
from babelrag.stores.graph_dumps import DumpOptions, dump_kind
from babelrag.stores.ingest import Ingestor, remove_sources
from babelrag.stores.wikidata import WikidataFilter, WikidataReader
from tests.kg_excerpts import dump_text, wikidata_entities, write_dump
from tests.store_cases import make_ingestor

pytestmark = pytest.mark.unit


def read(path: Path, **kwargs) -> tuple[dict[str, dict[str, object]], WikidataReader, int]:
    """``{source: {lang: document}}``, the reader, and the bytes progress reported."""
    reader = WikidataReader(path, **kwargs)
    read_bytes = [0]
    groups = {
        g.source: {d.metadata["lang"]: d for d in g.documents}
        for g in reader.groups(lambda n: read_bytes.__setitem__(0, read_bytes[0] + n))
    }
    return groups, reader, read_bytes[0]


def dump_ingestor(tmp_path: Path, **options) -> Ingestor:
    ingestor = make_ingestor(tmp_path, KeywordEmbeddings(dimension=64))
    ingestor.dumps = DumpOptions(**options)
    return ingestor


class TestRendering:
    def test_one_document_per_language_with_metadata(self, tmp_path: Path) -> None:
        docs, _, _ = read(write_dump(tmp_path / "dump.json", dump_text(wikidata_entities())))
        adams = docs["wikidata:Q42"]
        assert sorted(adams) == ["de", "en", "fr", "zh"]  # "ast" is no language babelrag knows
        zh = adams["zh"]
        assert zh.metadata["title"] == "道格拉斯·亚当斯"
        assert zh.metadata["qid"] == "Q42" and zh.metadata["entity"] == "wikidata:Q42"
        assert zh.metadata["sitelink"] == "道格拉斯·亚当斯"
        assert "sitelink" not in adams["fr"].metadata  # no frwiki article in the excerpt

    def test_statements_are_sentences_with_labels_in_the_documents_language(self, tmp_path: Path) -> None:
        docs, _, _ = read(write_dump(tmp_path / "dump.json", dump_text(wikidata_entities())))
        de = docs["wikidata:Q42"]["de"].page_content.split("\n")
        assert de[0] == "Douglas Adams: britischer Schriftsteller."
        # Q36180 stands before Q42 in the dump, Q5 and the properties after it: both are resolved
        assert "Douglas Adams – ist ein(e): Mensch." in de
        assert "Douglas Adams – Tätigkeit: Schriftsteller." in de
        assert "Douglas Adams – Geburtsdatum: 1952-03-11." in de
        assert "Douglas Adams – Höhe: 1.96 Meter." in de
        en = docs["wikidata:Q42"]["en"].page_content
        assert "Douglas Adams (Douglas Noël Adams)." in en
        assert "113230702" not in en  # external identifiers are left out

    def test_preferred_rank_wins_and_missing_labels_fall_back(self, tmp_path: Path) -> None:
        docs, _, _ = read(write_dump(tmp_path / "dump.json", dump_text(wikidata_entities())))
        zh = docs["wikidata:Q42"]["zh"].page_content
        assert "道格拉斯·亚当斯 – 职业: writer." in zh  # no Chinese label for Q36180: English
        assert "Q245068" not in zh  # the normal-rank occupation is outranked by the preferred one

    def test_languages_option_limits_the_documents(self, tmp_path: Path) -> None:
        docs, _, _ = read(
            write_dump(tmp_path / "dump.json", dump_text(wikidata_entities())), languages=["zh"]
        )
        assert all(list(by_lang) == ["zh"] for by_lang in docs.values())


class TestReading:
    @pytest.mark.parametrize("name", ["dump.json.gz", "dump.json.bz2", "dump.jsonl"])
    def test_compressed_dumps_read_like_plain_with_progress_by_compressed_bytes(
        self, tmp_path: Path, name: str
    ) -> None:
        plain, _, _ = read(write_dump(tmp_path / "plain.json", dump_text(wikidata_entities())))
        path = write_dump(tmp_path / name, dump_text(wikidata_entities()))
        docs, reader, read_bytes = read(path)
        assert {s: {lang: d.page_content for lang, d in v.items()} for s, v in docs.items()} == {
            s: {lang: d.page_content for lang, d in v.items()} for s, v in plain.items()
        }
        assert read_bytes == reader.passes() * path.stat().st_size
        assert dump_kind(path) == "wikidata"

    def test_a_malformed_line_is_reported_with_its_number_and_skipped(self, tmp_path: Path) -> None:
        path = write_dump(
            tmp_path / "dump.json.gz", dump_text(wikidata_entities(), bad_line='{"type": "item", "id')
        )
        docs, reader, _ = read(path)
        assert any(w.startswith("line 4: not valid JSON") for w in reader.warnings), reader.warnings
        assert "wikidata:Q42" in docs and "wikidata:Q64" in docs

    @pytest.mark.parametrize(
        ("name", "text"),
        [
            ("records.json.gz", '[\n{"text": "hello", "lang": "en"},\n]\n'),
            ("notes.json", "just some text\n"),
        ],
    )
    def test_a_file_that_is_not_a_wikidata_dump_is_a_clear_error(
        self, tmp_path: Path, name: str, text: str
    ) -> None:
        path = write_dump(tmp_path / name, text)
        with pytest.raises(UnreadableFileError, match=r"not a Wikidata JSON dump: line \d+"):
            read(path)
        report = dump_ingestor(tmp_path).ingest([path])
        assert report.failed and "not a Wikidata JSON dump" in report.failed[0][1]

    def test_a_truncated_archive_is_a_clear_error(self, tmp_path: Path) -> None:
        path = write_dump(tmp_path / "dump.json.gz", dump_text(wikidata_entities()))
        path.write_bytes(path.read_bytes()[:-40])
        with pytest.raises(UnreadableFileError, match="damaged or truncated archive"):
            read(path)

    def test_ordinary_jsonl_stays_a_document_file(self, tmp_path: Path) -> None:
        path = tmp_path / "notes.jsonl"
        path.write_text('{"text": "hello", "lang": "en"}\n', encoding="utf-8")
        assert dump_kind(path) is None


class TestFilter:
    def test_instance_of(self, tmp_path: Path) -> None:
        path = write_dump(tmp_path / "dump.json", dump_text(wikidata_entities()))
        docs, _, _ = read(path, keep=WikidataFilter.parse(["P31:Q5"]))
        assert list(docs) == ["wikidata:Q42"]
        docs, _, _ = read(path, keep=WikidataFilter.parse(["P31:Q5,Q515"]))
        assert sorted(docs) == ["wikidata:Q42", "wikidata:Q64"]

    def test_sitelinks_and_id_list_together(self, tmp_path: Path) -> None:
        path = write_dump(tmp_path / "dump.json", dump_text(wikidata_entities()))
        ids = tmp_path / "ids.txt"
        ids.write_text("Q64\nQ5\n", encoding="utf-8")
        docs, _, _ = read(path, keep=WikidataFilter.parse(["sitelink", f"ids:{ids}"]))
        assert list(docs) == ["wikidata:Q64"]  # Q5 has no sitelink
        docs, _, _ = read(path, keep=WikidataFilter.parse(["sitelink:dewiki"]))
        assert list(docs) == ["wikidata:Q42"]

    @pytest.mark.parametrize("spec", ["P31:human", "color:red", "P31:", "ids:/no/such/file"])
    def test_bad_filters_are_config_errors(self, spec: str) -> None:
        with pytest.raises(ConfigError):
            WikidataFilter.parse([spec])


class TestIngest:
    def test_ingest_then_a_newer_dump_updates_only_the_changed_entity(self, tmp_path: Path) -> None:
        ingestor = dump_ingestor(tmp_path, wikidata_filter=WikidataFilter.parse(["P31:Q5,Q515"]))
        path = write_dump(tmp_path / "latest-all.json.gz", dump_text(wikidata_entities()))
        first = ingestor.ingest([path])
        assert sorted(first.added) == ["wikidata:Q42", "wikidata:Q64"] and not first.failed
        langs = {(m["source"], m["lang"]) for _, _, m in ingestor.store.iter_chunks()}
        assert ("wikidata:Q42", "zh") in langs and ("wikidata:Q64", "de") in langs

        again = ingestor.ingest([path])
        assert sorted(again.unchanged) == ["wikidata:Q42", "wikidata:Q64"] and again.chunks_embedded == 0

        write_dump(
            path, dump_text(wikidata_entities(description_de="englischer Schriftsteller und Humorist"))
        )
        newer = ingestor.ingest([path])
        assert newer.updated == ["wikidata:Q42"] and newer.unchanged == ["wikidata:Q64"]
        assert newer.chunks_embedded == 1  # the German document only
        texts = [t for _, t, m in ingestor.store.iter_chunks(texts=True) if m["source"] == "wikidata:Q42"]
        assert any("englischer Schriftsteller und Humorist" in t for t in texts)
        assert not any("britischer" in t for t in texts)

    def test_dump_records_can_be_removed_by_name(self, tmp_path: Path) -> None:
        ingestor = dump_ingestor(tmp_path, wikidata_filter=WikidataFilter.parse(["P31:Q5,Q515"]))
        ingestor.ingest([write_dump(tmp_path / "dump.json.bz2", dump_text(wikidata_entities()))])
        entries = len(ingestor.store.chunks_of("wikidata:Q64"))  # 3 documents (and their heading entries)
        report = remove_sources(ingestor.store, ["wikidata:Q64"])
        assert list(report.removed) == ["wikidata:Q64"] and report.removed["wikidata:Q64"] == entries >= 3
        assert {m["source"] for _, _, m in ingestor.store.iter_chunks()} == {"wikidata:Q42"}
