"""Cross-lingual retrieval over a real Chroma store with the keyword embedder and a fake translator."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from babelrag.chains.retrieval import CrossLingualRetriever
from babelrag.stores.errors import StoreError
from babelrag.stores.fakes import KeywordEmbeddings
from babelrag.stores.knowledge_store import KnowledgeStore
from babelrag.stores.langdetect import detect_language
from babelrag.stores.lexical import BM25Index
from tests.store_cases import make_ingestor, write_kb

pytestmark = pytest.mark.unit

QUERY = "How do I undo the last commit?"
QUERY_ZH = "如何撤销最后一次提交？"

ENGLISH = {
    "trains.md": "# Night trains\n\nThe last train of the night leaves the station at midnight.\n",
    "shop.md": "# Shop hours\n\nThe shop stays open until the last customer of the day has left.\n",
    "bread.md": "# Bread\n\nBake the bread for forty minutes until the crust is brown.\n",
}
CHINESE = {"git.txt": "# 撤销提交\n\n如果最后一次提交有错误，可以撤销提交，但保留修改。\n"}


class FakeTranslator:
    def __init__(self, table: dict[tuple[str, str, str], str]) -> None:
        self.id = "fake:dict"
        self.table = table
        self.calls: list[tuple[str, str, str]] = []

    def translate(self, text: str, source: str, target: str) -> str:
        self.calls.append((text, source, target))
        return self.table.get((text, source, target), "")


def build_store(tmp_path: Path, files: dict[str, str]) -> KnowledgeStore:
    kb = tmp_path / "kb"
    kb.mkdir()
    for name, text in files.items():
        (kb / name).write_text(text, encoding="utf-8")
    ing = make_ingestor(tmp_path, KeywordEmbeddings(dimension=512))
    report = ing.ingest([kb])
    assert len(report.added) == len(files) and not report.failed
    return ing.store


def name_of(hit) -> str:
    return Path(hit.source).name


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeStore:
    """Shared by the tests of this module, which only read it."""
    return build_store(tmp_path_factory.mktemp("retrieval"), {**ENGLISH, **CHINESE})


@pytest.fixture
def translator() -> FakeTranslator:
    return FakeTranslator({(QUERY, "en", "zh"): QUERY_ZH})


def make_retriever(store: KnowledgeStore, translator: FakeTranslator, **kwargs) -> CrossLingualRetriever:
    settings = {"k": 2, "fetch_k": 2, "detect_language": detect_language, **kwargs}
    return CrossLingualRetriever(store=store, translator=translator, **settings)


class TestTranslation:
    def test_no_translation_when_the_kb_is_all_in_the_query_language(self, tmp_path: Path) -> None:
        store = build_store(tmp_path, ENGLISH)
        translator = FakeTranslator({(QUERY, "en", "zh"): QUERY_ZH})
        result = make_retriever(store, translator, k=3).retrieve(QUERY)
        assert translator.calls == []
        assert result.query_lang == "en" and result.translations == {}
        assert [h.id for h in result.hits] == [h.id for h in store.search(QUERY, k=3)]
        assert all("rrf" not in h.metadata for h in result.hits), "one list: nothing to fuse"

    def test_translates_into_the_other_kb_languages(self, store, translator) -> None:
        result = make_retriever(store, translator).retrieve(QUERY)
        assert translator.calls == [(QUERY, "en", "zh")]
        assert result.translations == {"zh": QUERY_ZH}
        assert "translate_s" in result.timings and "retrieve_s" in result.timings

    def test_a_document_only_the_translation_reaches(self, store, translator) -> None:
        off = make_retriever(store, translator, use_translation=False).retrieve(QUERY)
        on = make_retriever(store, translator).retrieve(QUERY)
        assert "git.txt" not in [name_of(h) for h in off.hits]
        assert translator.calls == [(QUERY, "en", "zh")], "translation off does not call the translator"
        assert "git.txt" in [name_of(h) for h in on.hits]
        git = next(h for h in on.hits if name_of(h) == "git.txt")
        assert git.metadata["matched_by"] == "translation:zh"

    def test_query_language_given_by_the_caller(self, store, translator) -> None:
        seen: list[str] = []

        def detect(text: str) -> str:
            seen.append(text)
            return detect_language(text)

        retriever = make_retriever(store, translator, detect_language=detect)
        result = retriever.retrieve(QUERY, query_lang="en")
        assert result.query_lang == "en"
        assert QUERY not in seen, "the query is not detected again"
        assert seen == [QUERY_ZH], "the translation is checked to be in the target language"

    def test_translation_in_the_wrong_language_is_not_searched(self, store) -> None:
        translator = FakeTranslator({(QUERY, "en", "zh"): "You should use git reset for that."})
        result = make_retriever(store, translator).retrieve(QUERY)
        assert result.translations == {}
        assert "git.txt" not in [name_of(h) for h in result.hits]


class TestScoresAndFusion:
    def test_a_score_is_the_best_cosine_of_the_query_or_its_translation(self, store, translator) -> None:
        retriever = make_retriever(store, translator, k=4, fetch_k=4, use_headings=False)
        result = retriever.retrieve(QUERY)
        assert len(result.hits) == 4
        ids = [h.id for h in result.hits]
        original = store.cosine_scores(store.embedder.embed_query(QUERY), ids)
        translated = store.cosine_scores(store.embedder.embed_query(QUERY_ZH), ids)
        for hit in result.hits:
            assert hit.score == pytest.approx(max(original[hit.id], translated[hit.id]), abs=1e-5)
        git = next(h for h in result.hits if name_of(h) == "git.txt")
        assert original[git.id] < 0.1 < 0.5 < git.score, "the translation's cosine, which found it"

    def test_versions_are_merged_by_mean_cosine(self, store, translator) -> None:
        """By default every chunk either version fetched is ranked by its mean cosine over the
        question and its translation (translations weighted), scored by its best one."""
        retriever = make_retriever(
            store, translator, k=4, fetch_k=4, use_headings=False, translation_weight=2
        )
        result = retriever.retrieve(QUERY)
        assert result.translations == {"zh": QUERY_ZH} and len(result.hits) == 4
        vectors = store.embedder.embed_queries([QUERY, QUERY_ZH])
        for hit in result.hits:
            assert set(hit.metadata["matched_by"].split(",")) <= {"original", "translation:zh"}
            cosines = [store.cosine_scores(v, [hit.id])[hit.id] for v in vectors]
            assert hit.metadata["mean"] == pytest.approx((cosines[0] + 2 * cosines[1]) / 3, abs=1e-4)
            assert hit.score == pytest.approx(max(cosines), abs=1e-4)
            assert hit.metadata["rrf"] > 0, "the JSON contract keeps the fusion score"
        means = [h.metadata["mean"] for h in result.hits]
        assert means == sorted(means, reverse=True)
        assert name_of(result.hits[0]) == "git.txt", "the passage both versions like comes first"

    def test_lists_are_fused_by_rank(self, store, translator) -> None:
        """With merge="rank", each query ranks by its own cosine and the ranks are fused: agreement
        between the question and its translation outranks one list's high cosine."""
        result = make_retriever(store, translator, k=4, fetch_k=4, merge="rank").retrieve(QUERY)
        allowed = {"original", "translation:zh", "heading:original", "heading:translation:zh"}
        for hit in result.hits:
            assert set(hit.metadata["matched_by"].split(",")) <= allowed
            assert hit.metadata["rrf"] > 0
        rrfs = [h.metadata["rrf"] for h in result.hits]
        assert rrfs == sorted(rrfs, reverse=True)
        assert result.hits[0].metadata["rrf"] > 1 / 61, "found by both lists: more than rank 1 of one"

    @pytest.mark.parametrize("k", [1, 2, 3])
    def test_k_limits_the_results(self, store, translator, k: int) -> None:
        assert len(make_retriever(store, translator, k=k, fetch_k=10).retrieve(QUERY).hits) == k

    def test_lang_filter_applies_to_every_list(self, store, translator) -> None:
        hits = make_retriever(store, translator, k=4, lang="zh").retrieve(QUERY).hits
        assert [name_of(h) for h in hits] == ["git.txt"]


class TestLexical:
    def test_lexical_mode_adds_bm25_lists(self, store, translator) -> None:
        built: list[BM25Index] = []

        def lexical() -> BM25Index:
            built.append(BM25Index.from_store(store))
            return built[-1]

        dense = make_retriever(store, translator, k=4, fetch_k=4, lexical=lexical).retrieve(QUERY)
        assert built == [], "the index is only built when lexical mode is on"
        assert all("lexical:" not in h.metadata["matched_by"] for h in dense.hits)

        both = make_retriever(store, translator, k=4, fetch_k=4, lexical=lexical, use_lexical=True)
        hits = both.retrieve(QUERY).hits
        assert len(built) == 1
        matched = {name_of(h): h.metadata["matched_by"].split(",") for h in hits}
        assert "lexical:translation:zh" in matched["git.txt"]
        assert "lexical:original" in matched["trains.md"] and "lexical:original" in matched["shop.md"]
        assert "lexical:original" not in matched["git.txt"]

    def test_lexical_alone_is_fused_with_the_dense_list(self, store, translator) -> None:
        retriever = make_retriever(
            store,
            translator,
            k=4,
            use_translation=False,
            use_lexical=True,
            lexical=lambda: BM25Index.from_store(store),
        )
        hits = retriever.retrieve(QUERY).hits
        assert translator.calls == []
        assert any(h.metadata["matched_by"] == "lexical:original,original" for h in hits)


class TestAsLangChainRetriever:
    def test_invoke_returns_documents(self, store, translator) -> None:
        retriever = make_retriever(store, translator)
        assert isinstance(retriever, BaseRetriever)
        docs = retriever.invoke(QUERY)
        hits = make_retriever(store, translator).retrieve(QUERY).hits
        assert all(isinstance(d, Document) for d in docs)
        assert [d.id for d in docs] == [h.id for h in hits]
        assert [d.page_content for d in docs] == [h.text for h in hits]
        assert {"score", "rrf", "matched_by", "source", "lang"} <= set(docs[0].metadata)

    def test_k_must_be_positive(self, store, translator) -> None:
        with pytest.raises(ValueError):
            make_retriever(store, translator, k=0)


def test_retriever_is_a_langchain_retriever(tmp_path: Path) -> None:
    ing = make_ingestor(tmp_path, KeywordEmbeddings(dimension=128))
    ing.ingest([write_kb(tmp_path)])
    retriever = CrossLingualRetriever(
        store=ing.store, detect_language=detect_language, use_translation=False, k=2
    )
    docs = retriever.invoke("git reset 提交")
    assert len(docs) == 2
    assert docs[0].metadata["source"].endswith("git.txt")
    assert 0 <= docs[0].metadata["score"] <= 1 and docs[0].id
    chained = (retriever | (lambda ds: [d.metadata["lang"] for d in ds])).invoke("Fahrradkette ölen")
    assert chained[0] == "de"
    assert len(retriever.invoke("git reset 提交", k=1)) == 1, "k per call, as LangChain retrievers take it"
    with pytest.raises(StoreError, match="k must be at least 1"):
        retriever.invoke("git reset", k=0)


class TestDocuments:
    def test_k_distinct_documents_or_raw_chunks(self, tmp_path: Path) -> None:
        long = "# Tea\n\n" + " ".join(f"Green tea sentence number {i} about green tea." for i in range(40))
        store = build_store(tmp_path, {"tea.md": long, **ENGLISH})
        assert {name_of(h) for h in store.search("green tea", k=3)} == {"tea.md"}  # one file, many chunks
        grouped = make_retriever(store, None, k=3, fetch_k=10, group_documents=True).retrieve("green tea")
        assert len({name_of(h) for h in grouped.hits}) == len(grouped.hits) == 3
        assert name_of(grouped.hits[0]) == "tea.md"
        raw = make_retriever(store, None, k=3, fetch_k=10).retrieve("green tea")
        assert [name_of(h) for h in raw.hits] == ["tea.md"] * 3


class TestHeadings:
    """Each document header is embedded on its own and stands for the first chunk under it."""

    FILES = {  # noqa: RUF012
        "kernel.md": "# Kernel headers\n\n"
        + " ".join(f"Programs compile against libc files, note {i}." for i in range(30))
        + "\n",
        "fonts.md": "# Fonts\n\nScalable fonts render through FreeType on screen and paper.\n",
    }

    def test_a_matching_heading_lifts_its_section(self, tmp_path: Path) -> None:
        store = build_store(tmp_path, self.FILES)
        headings = [m for _, _, m in store.iter_chunks(headings=True) if "heading_of" in m]
        assert sorted(str(m["context"] if "context" in m else m["title"]) for m in headings) == [
            "Fonts",
            "Kernel headers",
        ], "one heading entry per distinct header"
        assert all("chunk" not in m for m in headings)
        sections = [m for _, _, m in store.iter_chunks(headings=True) if "section_of" in m]
        assert [m["title"] for m in sections] == ["Kernel headers"], "one section of several chunks"
        assert store.chunk_count() == store.count() - 2 - 1
        off = make_retriever(store, None, k=1, use_headings=False, group_documents=True).retrieve(
            "kernel headers"
        )
        on = make_retriever(store, None, k=1, group_documents=True).retrieve("kernel headers")
        assert name_of(on.hits[0]) == "kernel.md"
        assert "heading:original" in on.hits[0].metadata["matched_by"].split(",")
        assert on.hits[0].metadata["chunk"] == 0, "the heading stands for the first chunk under it"
        assert "heading_of" not in on.hits[0].metadata, "users get a chunk, never a heading entry"
        assert on.hits[0].score > off.hits[0].score

    def test_the_margin_lets_text_win_a_close_race(self, tmp_path: Path) -> None:
        store = build_store(tmp_path, self.FILES)
        query = "kernel headers"
        strict = make_retriever(store, None, k=1, heading_margin=1.0).retrieve(query).hits[0]
        assert "heading" not in strict.metadata["matched_by"], "a margin of 1 lets no heading win"

    def test_headings_never_reach_chunk_listings(self, tmp_path: Path) -> None:
        store = build_store(tmp_path, self.FILES)
        assert all("heading_of" not in m and "section_of" not in m for _, _, m in store.iter_chunks())
        assert len(BM25Index.from_store(store)) == store.chunk_count()
        assert sum(store.sources().values()) == store.chunk_count()
        hits = store.search("kernel headers", k=2)
        assert len(hits) == 2 and all(h.is_chunk for h in hits), "store.search gives chunks"


class TestSections:
    """A chunk's score counts its whole section's cosine: (chunk + w x section) / (1 + w)."""

    FILES = {  # noqa: RUF012
        "orchard.md": "# Orchard\n\n"
        + " ".join(f"Apple trees on hill {i} give fruit for cider." for i in range(10))
        + "\n\n"
        + " ".join(f"Pear trees by wall {i} ripen late in the year." for i in range(10))
        + "\n",
        "market.md": "# Market\n\nStalls sell apple juice and pear jam on weekends.\n",
    }
    QUERY = "apple pear trees cider"

    @staticmethod
    def cosine(a, b) -> float:
        import numpy as np

        a, b = np.asarray(a), np.asarray(b)
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))

    def test_each_score_blends_the_chunk_and_its_section(self, tmp_path: Path) -> None:
        store = build_store(tmp_path, self.FILES)
        query = store.embedder.embed_query(self.QUERY)
        for w in (0.0, 0.25, 1.0):
            hits = (
                make_retriever(store, None, k=10, fetch_k=20, use_headings=False, section_weight=w)
                .retrieve(self.QUERY)
                .hits
            )
            assert hits and all(h.is_chunk for h in hits), "users get chunks, never section entries"
            for hit in hits:
                own = self.cosine(query, store.vectors([hit.id])[0])
                section = hit.metadata.get("section")
                whole = self.cosine(query, store.vectors([section])[0]) if section else own
                assert hit.score == pytest.approx((own + w * whole) / (1 + w), abs=1e-5)
            assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert any(h.metadata.get("section") for h in hits) and any(
            not h.metadata.get("section") for h in hits
        ), "both kinds measured: chunks of a section, and a one-chunk document standing for itself"

    def test_a_section_entry_found_alone_brings_its_best_chunk(self, tmp_path: Path) -> None:
        store = build_store(tmp_path, self.FILES)
        section = next(
            h for h in store.search_by_vector(store.embedder.embed_query("x"), k=50) if h.section_of == 0
        )
        text = f"{section.metadata['context']}\n\n{section.text}"
        found = store.search_by_vector(store.embedder.embed_query(text), k=1)
        assert found[0].id == section.id, "the query is the section's own text: its entry is nearest"
        hits = make_retriever(store, None, k=1, fetch_k=1).retrieve(text).hits
        assert len(hits) == 1 and hits[0].is_chunk and hits[0].metadata["section"] == section.id
        assert "section_of" not in hits[0].metadata

    def test_weight_zero_is_the_chunk_alone(self, tmp_path: Path) -> None:
        store = build_store(tmp_path, self.FILES)
        off = make_retriever(store, None, k=5, fetch_k=20, use_headings=False, section_weight=0).retrieve(
            self.QUERY
        )
        plain = [h for h in store.search(self.QUERY, k=5)]
        assert [h.id for h in off.hits] == [h.id for h in plain]
        assert [h.score for h in off.hits] == pytest.approx([h.score for h in plain], abs=1e-5)

    def test_headings_written_before_they_named_their_chunk_rank_the_same(self, tmp_path: Path) -> None:
        store = build_store(tmp_path, self.FILES)
        queries = (self.QUERY, "orchard", "market")  # a heading found alone: its chunk is read in

        def ranked() -> list[list[tuple[str, float]]]:
            hits = [make_retriever(store, None, k=1, fetch_k=1).retrieve(q).hits for q in queries]
            return [[(h.id, round(h.score, 6)) for h in found] for found in hits]

        new = ranked()
        helpers = [(cid, m) for cid, _, m in store.iter_chunks(headings=True) if "heads" in m]
        assert helpers, "heading entries name their chunk"
        store.update_metadata([cid for cid, _ in helpers], [{"heads": None}] * len(helpers))
        old = ranked()
        assert old == new
