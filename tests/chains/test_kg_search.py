"""Language versions grouped in results; translations made at ingest, marked, and cited as originals."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelrag.agents.cli.render import version_notes
from babelrag.chains.answer import ANSWER_VARIABLES, REWRITE_VARIABLES, AnswerChain
from babelrag.chains.fusion import group_languages
from babelrag.chains.grounding import Grounder
from babelrag.chains.prompting import load_messages, load_prompt
from babelrag.chains.retrieval import CrossLingualRetriever
from babelrag.chains.translate import CachedTranslator, TranslationCache
from babelrag.stores.fakes import KeywordEmbeddings
from babelrag.stores.graph_dumps import DumpOptions
from babelrag.stores.ingest import Ingestor, translate_passage
from babelrag.stores.knowledge_store import SearchHit
from babelrag.stores.langdetect import detect_language
from babelrag.stores.wikidata import WikidataFilter
from tests.chains.test_answer import FakeGenerator
from tests.kg_excerpts import dump_text, wikidata_entities, write_dump
from tests.store_cases import make_ingestor

pytestmark = pytest.mark.unit


def hit(cid: str, lang: str, entity: str | None, **meta: object) -> SearchHit:
    metadata = {**({"entity": entity} if entity else {}), **meta}
    return SearchHit(id=cid, source=cid, title=cid, lang=lang, score=0.5, text=cid, metadata=metadata)


class TestGroupLanguages:
    def test_the_users_language_is_shown_at_the_best_versions_rank(self) -> None:
        hits = [
            hit("berlin-en", "en", "wikidata:Q64"),
            hit("tea", "en", None),
            hit("berlin-de", "de", "wikidata:Q64"),
            hit("berlin-fr", "fr", "wikidata:Q64"),
            hit("adams-en", "en", "wikidata:Q42"),
        ]
        grouped = group_languages(hits, lang="de")
        assert [h.id for h in grouped] == ["berlin-de", "tea", "adams-en"]
        assert grouped[0].metadata["also_in"] == "en, fr"
        assert "also_in" not in grouped[2].metadata

    def test_without_a_version_in_the_users_language_the_best_ranked_is_shown(self) -> None:
        grouped = group_languages([hit("a", "fr", "e"), hit("b", "en", "e")], lang="zh")
        assert [(h.id, h.metadata["also_in"]) for h in grouped] == [("a", "en")]

    def test_an_original_goes_before_a_translation_and_the_translation_is_named_so(self) -> None:
        hits = [hit("t", "de", "e", translated_from="en"), hit("o", "de", "e"), hit("x", "en", "e")]
        (shown,) = group_languages(hits, lang="de")
        assert shown.id == "o" and shown.metadata["also_in"] == "de (translated), en"

    def test_nothing_to_group_detects_no_language(self) -> None:
        def fail() -> str:
            raise AssertionError("the language is only needed when versions meet")

        hits = [hit("a", "en", "e1"), hit("b", "de", None)]
        assert group_languages(hits, lang=fail) == hits


@pytest.fixture
def wikidata_store(tmp_path: Path):
    ingestor = make_ingestor(tmp_path, KeywordEmbeddings(dimension=256))
    ingestor.dumps = DumpOptions(wikidata_filter=WikidataFilter.parse(["P31:Q5,Q515"]))
    ingestor.ingest([write_dump(tmp_path / "dump.json.gz", dump_text(wikidata_entities()))])
    return ingestor.store


class TestSearchOverWikidata:
    def test_one_result_per_entity_in_the_users_language(self, wikidata_store) -> None:
        retriever = CrossLingualRetriever(store=wikidata_store, detect_language=detect_language, k=5)
        retriever.group_documents = True
        hits = retriever.retrieve("Berlin Hauptstadt Deutschlands Stadt", query_lang="de").hits
        assert [h.source for h in hits] == ["wikidata:Q64", "wikidata:Q42"]
        assert hits[0].lang == "de" and hits[0].metadata["also_in"] == "en, zh"
        assert hits[1].lang == "de" and hits[1].metadata["also_in"] == "en, fr, zh"

    def test_chunks_mode_keeps_every_version(self, wikidata_store) -> None:
        retriever = CrossLingualRetriever(store=wikidata_store, detect_language=detect_language, k=20)
        hits = retriever.retrieve("Berlin Hauptstadt", query_lang="de").hits
        assert len([h for h in hits if h.source == "wikidata:Q64"]) == 3


class SentenceTranslator:
    """Translates by a table of sentences; counts its calls."""

    id = "fake:sentences"

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table
        self.calls = 0

    def translate(self, text: str, source: str, target: str) -> str:
        self.calls += 1
        return self.table.get(text, "") if target == "en" else ""


TEA_ZH = "# 绿茶\n\n绿茶最好用80度的水冲泡。浸泡两分钟。\n"
TABLE = {
    "绿茶": "Green tea",
    "绿茶最好用80度的水冲泡。": "Green tea is best brewed with water at 80 degrees.",
    "浸泡两分钟。": "Steep for two minutes.",
}


def translating_ingestor(tmp_path: Path, translator, name: str = "test") -> Ingestor:
    plain = make_ingestor(tmp_path, KeywordEmbeddings(dimension=256), name=name)
    return Ingestor(
        store=plain.store,
        chunker=plain.chunker,
        detect_language=detect_language,
        translator=translator,
        translate_to=("en", "zh"),
    )


class TestTranslationAtIngest:
    def test_translations_are_added_and_marked(self, tmp_path: Path) -> None:
        (tmp_path / "tea.md").write_text(TEA_ZH, encoding="utf-8")
        ingestor = translating_ingestor(tmp_path, SentenceTranslator(TABLE))
        report = ingestor.ingest([tmp_path / "tea.md"])
        assert report.chunks_translated == 1
        chunks = {m["lang"]: (cid, text, m) for cid, text, m in ingestor.store.iter_chunks(texts=True)}
        assert sorted(chunks) == ["en", "zh"]  # nothing is "translated" into its own language
        original_id, _, _ = chunks["zh"]
        _, text, meta = chunks["en"]
        assert (
            text == "Green tea\n\nGreen tea is best brewed with water at 80 degrees. Steep for two minutes."
        )
        assert meta["translated_from"] == "zh" and meta["translator"] == "fake:sentences"
        assert meta["original"] == original_id and meta["source"] == chunks["zh"][2]["source"]

    def test_reingest_translates_nothing_again(self, tmp_path: Path) -> None:
        (tmp_path / "tea.md").write_text(TEA_ZH, encoding="utf-8")
        inner = SentenceTranslator(TABLE)
        cache = TranslationCache(tmp_path / "translations.sqlite")
        translator = CachedTranslator(inner, cache)
        translating_ingestor(tmp_path, translator).ingest([tmp_path / "tea.md"])
        calls = inner.calls
        assert calls > 0
        # the same file in a fresh knowledge base: every sentence comes from the cache
        other = translating_ingestor(tmp_path, CachedTranslator(inner, cache), name="other")
        assert other.ingest([tmp_path / "tea.md"]).chunks_translated == 1
        assert inner.calls == calls

    def test_adding_a_target_language_translates_an_already_ingested_file(self, tmp_path: Path) -> None:
        (tmp_path / "tea.md").write_text(TEA_ZH, encoding="utf-8")
        plain = make_ingestor(tmp_path, KeywordEmbeddings(dimension=256))
        plain.ingest([tmp_path / "tea.md"])
        entries = plain.store.count()
        report = translating_ingestor(tmp_path, SentenceTranslator(TABLE)).ingest([tmp_path / "tea.md"])
        assert report.updated and report.chunks_embedded == 1  # the translation only
        assert report.chunks_kept == entries and report.chunks_removed == 0

    def test_a_translation_in_another_language_than_asked_is_not_stored(self, tmp_path: Path) -> None:
        (tmp_path / "tea.md").write_text(TEA_ZH, encoding="utf-8")
        echo = {k: "Die Antwort steht in der Datei, sagte der Übersetzer auf Deutsch." for k in TABLE}
        ingestor = translating_ingestor(tmp_path, SentenceTranslator(echo))
        report = ingestor.ingest([tmp_path / "tea.md"])
        assert report.translations_dropped == 1 and report.chunks_translated == 0
        assert {m["lang"] for _, _, m in ingestor.store.iter_chunks()} == {"zh"}

    def test_a_passage_is_translated_sentence_by_sentence_keeping_its_lines(self) -> None:
        translator = SentenceTranslator({"甲。": "A.", "乙。": "B.", "丙": "C"})
        assert translate_passage(translator, "甲。乙。\n丙", "zh", "en") == "A. B.\nC"

    def test_search_shows_both_and_the_answer_cites_the_original(self, tmp_path: Path) -> None:
        (tmp_path / "tea.md").write_text(TEA_ZH, encoding="utf-8")
        ingestor = translating_ingestor(tmp_path, SentenceTranslator(TABLE))
        ingestor.ingest([tmp_path / "tea.md"])
        store = ingestor.store
        retriever = CrossLingualRetriever(store=store, detect_language=detect_language, k=4)
        retriever.group_documents = True
        hits = retriever.retrieve("green tea water degrees", query_lang="en").hits
        assert [h.lang for h in hits] == ["en", "zh"]  # the translation ranks first, the original stays
        assert hits[0].metadata["translated_from"] == "zh"
        assert version_notes(hits[0].metadata) == "machine translation from zh (fake:sentences)"

        llm = FakeGenerator(responses=["Green tea is best brewed with water at 80 degrees [1]."])
        chain = AnswerChain(
            retriever=retriever,
            llm=llm,
            grounder=Grounder(
                embed_sentences=store.embedder.embed_queries,
                passage_vectors=store.vectors,
                min_similarity=0.0,
            ),
            answer_prompt=load_prompt("answer", variables=ANSWER_VARIABLES),
            rewrite_prompt=load_prompt("rewrite_in_language", variables=REWRITE_VARIABLES),
            messages=load_messages(),
            detect_language=detect_language,
            context_tokens=1000,
            max_new_tokens=100,
            originals=store.hits,
        )
        result = chain.invoke({"question": "How hot should the water be for green tea?", "lang": "en"})
        assert [p.lang for p in result.passages] == ["zh"]  # the model read the original, once
        assert "绿茶最好用80度的水冲泡" in str(llm.seen[0][-1].content)
        assert result.sources and result.sources[0]["lang"] == "zh"
        assert "translated_from" not in result.sources[0]["metadata"]
