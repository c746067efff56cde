"""DBpedia abstracts: the N-Triples line parser, documents per resource and language, sameAs links."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelrag.stores.dbpedia import DbpediaReader, collect_links, parse_triple, unescape
from babelrag.stores.errors import UnreadableFileError
from babelrag.stores.fakes import KeywordEmbeddings
from babelrag.stores.graph_dumps import dump_kind
from tests.kg_excerpts import ABSTRACTS_DE, ABSTRACTS_EN, SAME_AS, write_dump
from tests.store_cases import make_ingestor

pytestmark = pytest.mark.unit


class TestParser:
    def test_literal_with_language_and_escapes(self) -> None:
        line = (
            "<http://x.org/r/A> <http://dbpedia.org/ontology/abstract> "
            '"Er sagte \\"ja\\" \\u00FC \\U0001F600\\n"@de-CH .'
        )
        assert parse_triple(line) == (
            "http://x.org/r/A",
            "http://dbpedia.org/ontology/abstract",
            'Er sagte "ja" ü 😀\n',
            "de-CH",
            True,
        )

    def test_iri_object_and_typed_literal(self) -> None:
        assert parse_triple("<a> <b> <c> .")[2:] == ("c", None, False)
        assert parse_triple('<a> <b> "12"^^<http://www.w3.org/2001/XMLSchema#int> .')[2:] == (
            "12",
            None,
            True,
        )

    def test_surrogate_pairs_are_joined(self) -> None:
        assert unescape("\\uD83D\\uDE00") == "😀"

    @pytest.mark.parametrize(
        "line", ["<a> <b> .", '<a> <b> "open .', "@prefix dbo: <http://dbpedia.org/ontology/> ."]
    )
    def test_broken_lines_are_not_triples(self, line: str) -> None:
        assert parse_triple(line) is None


def reader_for(
    tmp_path: Path, text: str, name: str = "long-abstracts_lang=de.ttl.bz2", links=None
) -> DbpediaReader:
    return DbpediaReader(write_dump(tmp_path / name, text), links=links)


class TestAbstracts:
    def test_one_document_per_resource_and_language_linked_to_wikidata(self, tmp_path: Path) -> None:
        links_path = write_dump(tmp_path / "wikidata-links.ttl", SAME_AS)
        links = collect_links([links_path], lambda n: None, tmp_path)
        try:
            reader = reader_for(tmp_path, ABSTRACTS_DE, links=links)
            groups = list(reader.groups(lambda n: None))
        finally:
            links.close()
        by_source = {g.source: g.documents for g in groups}
        berlin = by_source["http://de.dbpedia.org/resource/Berlin#long-abstract@de"][0]
        assert berlin.metadata["lang"] == "de" and berlin.metadata["title"] == "Berlin"
        assert berlin.metadata["entity"] == "wikidata:Q64" and berlin.metadata["qid"] == "Q64"
        assert 'bevölkerungsreichste Stadt. Sie wird oft "Spree-Athen" genannt.' in berlin.page_content
        spree = by_source["http://de.dbpedia.org/resource/Spree#long-abstract@de"][0]
        assert spree.metadata["entity"] == "http://de.dbpedia.org/resource/Spree"  # no Wikidata link
        assert "qid" not in spree.metadata
        assert reader.warnings == ["line 4: not an N-Triples line (<subject> <predicate> object .); skipped"]

    def test_short_abstracts_are_their_own_kind(self, tmp_path: Path) -> None:
        (group,) = reader_for(tmp_path, ABSTRACTS_EN, name="short-abstracts_lang=en.ttl").groups(
            lambda n: None
        )
        assert group.source == "http://dbpedia.org/resource/Berlin#short-abstract@en"
        assert group.documents[0].metadata["abstract"] == "short"

    @pytest.mark.parametrize(
        "text",
        [
            '{"type": "item", "id": "Q42"}\n',
            "@prefix dbo: <http://dbpedia.org/ontology/> .\n<a> dbo:x <b> .\n",
        ],
    )
    def test_a_file_that_is_not_n_triples_is_a_clear_error(self, tmp_path: Path, text: str) -> None:
        with pytest.raises(UnreadableFileError, match="not a DBpedia N-Triples file: line 1"):
            list(reader_for(tmp_path, text, name="abstracts.ttl").groups(lambda n: None))

    def test_ingest_links_from_a_file_given_after_the_abstracts(self, tmp_path: Path) -> None:
        ingestor = make_ingestor(tmp_path, KeywordEmbeddings(dimension=64))
        abstracts = write_dump(tmp_path / "long-abstracts_lang=de.ttl.bz2", ABSTRACTS_DE)
        english = write_dump(tmp_path / "short-abstracts_lang=en.ttl.gz", ABSTRACTS_EN)
        links = write_dump(tmp_path / "sameas-wikidata.ttl", SAME_AS)
        assert {dump_kind(p) for p in (abstracts, english, links)} == {"dbpedia"}
        report = ingestor.ingest([abstracts, english, links])
        assert len(report.added) == 4 and not report.failed
        assert any("line 4" in w for w in report.warnings)
        entities = {m["source"]: m["entity"] for _, _, m in ingestor.store.iter_chunks()}
        assert entities["http://dbpedia.org/resource/Berlin#short-abstract@en"] == "wikidata:Q64"
        assert entities["http://de.dbpedia.org/resource/Douglas_Adams#long-abstract@de"] == "wikidata:Q42"
        assert ingestor.ingest([abstracts, english, links]).chunks_embedded == 0
