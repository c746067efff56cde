"""BM25 and its tokens: words for spaced scripts, characters and bigrams for CJK."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelrag.stores.fakes import KeywordEmbeddings
from babelrag.stores.lexical import BM25Index, lexical_tokens
from tests.store_cases import make_ingestor, write_kb

pytestmark = pytest.mark.unit


class TestLexicalTokens:
    def test_chinese_gives_characters_and_bigrams(self) -> None:
        assert lexical_tokens("撤销提交") == ["撤", "销", "提", "交", "撤销", "销提", "提交"]

    def test_chinese_punctuation_splits_runs(self) -> None:
        assert lexical_tokens("绿茶，红茶") == ["绿", "茶", "绿茶", "红", "茶", "红茶"]

    def test_japanese_kana_and_kanji(self) -> None:
        assert lexical_tokens("カタカナ") == ["カ", "タ", "カ", "ナ", "カタ", "タカ", "カナ"]
        assert lexical_tokens("東京へ行く") == ["東", "京", "へ", "行", "く", "東京", "京へ", "へ行", "行く"]

    def test_half_width_katakana_is_normalised(self) -> None:
        assert lexical_tokens("ｶﾀｶﾅ") == lexical_tokens("カタカナ")

    def test_korean_words_and_bigrams(self) -> None:
        assert lexical_tokens("한국어를 배우다") == [
            "한국어를",
            "한국",
            "국어",
            "어를",
            "배우다",
            "배우",
            "우다",
        ]

    def test_two_syllable_korean_word_counts_once(self) -> None:
        assert lexical_tokens("사전") == ["사전"]

    def test_german_is_casefolded(self) -> None:
        assert lexical_tokens("Übergrößen STRASSE Straße") == ["übergrössen", "strasse", "strasse"]
        assert lexical_tokens("Fahrradkette ölen") == ["fahrradkette", "ölen"]

    def test_full_width_latin_and_digits_are_normalised(self) -> None:
        assert lexical_tokens("ＡＢＣ１２３ Ｇｉｔ") == ["abc123", "git"]

    def test_code_mixed_with_chinese(self) -> None:
        assert lexical_tokens("用 git reset --soft HEAD~1 撤销") == [
            "用",
            "git",
            "reset",
            "soft",
            "head",
            "1",
            "撤",
            "销",
            "撤销",
        ]

    def test_inner_apostrophes_hyphens_and_dots_join(self) -> None:
        assert lexical_tokens("don't e-mail v1.2.3 end.") == ["don't", "e-mail", "v1.2.3", "end"]

    def test_combining_marks_stay_inside_words(self) -> None:
        # Devanagari vowel signs and the virama are combining marks, not word characters for `re`
        assert lexical_tokens("हिन्दी भाषा।") == ["हिन्दी", "भाषा"]
        assert lexical_tokens("مَرْحَبًا بِكُمْ") == ["مَرْحَبًا", "بِكُمْ"]

    def test_cyrillic(self) -> None:
        assert lexical_tokens("Привет, МИР") == ["привет", "мир"]

    def test_nothing_to_index(self) -> None:
        assert lexical_tokens("") == []
        assert lexical_tokens(" --- ... ？！ ") == []


DOCS = [  # id, text, lang, source
    ("tea", "Green tea: the water should be hot but the tea should not boil. The tea is good.", "en", "t.md"),
    ("k8s", "Configure the Kubernetes ingress controller with the annotation.", "en", "k8s.md"),
    ("git", "如果最后一次提交有错误，可以使用 git reset --soft HEAD~1 撤销提交。", "zh", "git.txt"),
    (
        "bike",
        "Die Fahrradkette sollte alle 300 Kilometer geölt werden; sonst rostet die Kette.",
        "de",
        "b.md",
    ),
    ("chain", "Eine rostige Kette quietscht.", "de", "chain.md"),
]


@pytest.fixture
def index() -> BM25Index:
    return BM25Index([(cid, text, {"lang": lang, "source": src}) for cid, text, lang, src in DOCS])


class TestBM25Index:
    def test_rare_query_terms_rank_first(self, index: BM25Index) -> None:
        hits = index.search("the ingress", k=5)
        assert hits[0].id == "k8s", "'the' is everywhere in English, 'ingress' only in one chunk"
        assert "tea" in [h.id for h in hits]
        bm25 = [h.metadata["bm25"] for h in hits]
        assert bm25 == sorted(bm25, reverse=True) and bm25[0] > bm25[-1] > 0

    def test_hits_carry_metadata_and_a_zero_cosine(self, index: BM25Index) -> None:
        top = index.search("Kubernetes", k=1)[0]
        assert (top.source, top.lang, top.score) == ("k8s.md", "en", 0.0)
        assert top.text == DOCS[1][1]

    def test_chinese_query_matches_chinese_text_without_spaces(self, index: BM25Index) -> None:
        hits = index.search("如何撤销提交？", k=5)
        assert [h.id for h in hits] == ["git"]

    def test_case_and_width_do_not_matter(self, index: BM25Index) -> None:
        assert [h.id for h in index.search("ＫＵＢＥＲＮＥＴＥＳ")] == ["k8s"]

    def test_shorter_chunk_wins_on_equal_term_frequency(self, index: BM25Index) -> None:
        assert [h.id for h in index.search("kette", k=5)] == ["chain", "bike"]

    def test_lang_filter(self, index: BM25Index) -> None:
        assert {h.id for h in index.search("the kette git", k=10, lang="de")} == {"bike", "chain"}
        assert index.search("Kubernetes", lang="de") == []

    def test_where_filter(self, index: BM25Index) -> None:
        hits = index.search("kette", k=5, where={"source": "b.md"})
        assert [h.id for h in hits] == ["bike"]
        assert index.search("kette", where={"source": "b.md", "lang": "en"}) == []

    def test_k_limits_the_hits(self, index: BM25Index) -> None:
        assert len(index.search("the kette git", k=2)) == 2

    def test_unknown_terms_find_nothing(self, index: BM25Index) -> None:
        assert index.search("quantum chromodynamics") == []
        assert index.search("") == []

    def test_empty_index(self) -> None:
        empty = BM25Index([])
        assert len(empty) == 0
        assert empty.search("anything at all") == []

    def test_from_store(self, tmp_path: Path) -> None:
        ing = make_ingestor(tmp_path, KeywordEmbeddings(dimension=64))
        ing.ingest([write_kb(tmp_path)])
        index = BM25Index.from_store(ing.store)
        assert len(index) == ing.store.chunk_count()
        top = index.search("撤销提交", k=1)[0]
        assert top.lang == "zh" and top.source.endswith("git.txt")
        assert top.id in ing.store.collection.get(where={"lang": "zh"})["ids"]
