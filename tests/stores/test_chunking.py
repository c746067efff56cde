from __future__ import annotations

import random
import re
import unicodedata
from itertools import pairwise

import pytest
from langchain_core.documents import Document
from langchain_text_splitters import TextSplitter

from babelrag.stores.chunking import Chunker, split_sentences

pytestmark = pytest.mark.unit

_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3]|[^\W\d_]+|\d+|[^\w\s]")


def fake_tokens(text: str) -> int:
    """One token per CJK character, Latin word, number and punctuation mark."""
    return len(_TOKEN.findall(text))


class CountingTokens:
    def __init__(self, extra_per_call: int = 0) -> None:
        self.calls = 0
        self.extra_per_call = extra_per_call

    def __call__(self, text: str) -> int:
        self.calls += 1
        return fake_tokens(text) + self.extra_per_call


def numbered_sentences(n: int, *, seed: int = 7) -> list[str]:
    """Distinct English and Chinese sentences of varied length, in a fixed pseudo-random mix."""
    rng = random.Random(seed)
    sentences = []
    for i in range(n):
        if rng.random() < 0.5:
            words = " ".join(
                rng.choice(["tea", "water", "leaf", "brew", "cup", "hot"]) for _ in range(rng.randint(2, 12))
            )
            sentences.append(f"Sentence {i} says {words}.")
        else:
            sentences.append(
                f"第{i}句" + "".join(rng.choice("茶水叶杯热冷绿红") for _ in range(rng.randint(2, 20))) + "。"
            )
    return sentences


class TestSplitSentences:
    def test_a_long_line_with_table_pipes_takes_time_linear_in_its_length(self) -> None:
        """Regression: the table-row pattern backtracked over the whole line once per " | ", so a
        1 MB line of Markdown-ish text took 20 s. Eight times the text must take about eight times
        as long (quadratic would be 64x; the bound leaves room for a busy machine)."""
        import time

        unit = "Cells | like | these, and a sentence without an end "

        def seconds(repeats: int) -> float:
            text = unit * repeats
            started = time.perf_counter()
            assert "".join(split_sentences(text)) == text
            return time.perf_counter() - started

        seconds(200)  # warm the regex caches
        small, large = min(seconds(1_000) for _ in range(3)), min(seconds(8_000) for _ in range(3))
        assert large < 24 * max(small, 1e-3), (small, large)

    def test_a_table_row_is_still_a_sentence_of_its_own(self) -> None:
        text = "Intro line.\n| a | b |\nAfter the table.\n"
        assert "| a | b |\n" in split_sentences(text)

    def test_chinese_needs_no_space_and_keeps_closing_quotes(self) -> None:
        text = "我今天很开心。你呢？他说：「好的。」然后走了！真的吗？！好吧；明天见"
        assert split_sentences(text) == [
            "我今天很开心。",
            "你呢？",
            "他说：「好的。」",
            "然后走了！",
            "真的吗？！",
            "好吧；",
            "明天见",
        ]

    def test_japanese_and_korean(self) -> None:
        assert split_sentences("日本の首都はどこですか？東京です。") == [
            "日本の首都はどこですか？",
            "東京です。",
        ]
        assert split_sentences("안녕하세요. 반갑습니다!") == ["안녕하세요. ", "반갑습니다!"]

    def test_german_abbreviations_numbers_and_ordinals_do_not_end_sentences(self) -> None:
        text = (
            "Das ist z.B. ein Test mit 3.5 kg Tee. Dr. Müller wohnt in Nr. 5. "
            "Am 3. Oktober kam er, d.h. spät! Fertig?"
        )
        assert split_sentences(text) == [
            "Das ist z.B. ein Test mit 3.5 kg Tee. ",
            "Dr. Müller wohnt in Nr. 5. ",
            "Am 3. Oktober kam er, d.h. spät! ",
            "Fertig?",
        ]

    def test_english_abbreviations_versions_urls_and_file_names(self) -> None:
        text = (
            "Use e.g. Python 3.11 or v1.2.3 with Mr. Smith. Edit config.toml and see https://example.com/a.b "
            'for details. He said "Stop." Then left... and came back. Done'
        )
        assert split_sentences(text) == [
            "Use e.g. Python 3.11 or v1.2.3 with Mr. Smith. ",
            "Edit config.toml and see https://example.com/a.b for details. ",
            'He said "Stop." ',
            "Then left... and came back. ",
            "Done",
        ]

    def test_mixed_chinese_with_english_terms_and_code(self) -> None:
        text = "如何撤销提交？使用 `git reset --soft HEAD~1` 命令。See the docs. 然后再试一次!再见"
        assert split_sentences(text) == [
            "如何撤销提交？",
            "使用 `git reset --soft HEAD~1` 命令。",
            "See the docs. ",
            "然后再试一次!",
            "再见",
        ]

    def test_paragraphs_headings_and_list_items_are_boundaries_but_wrapped_lines_are_not(self) -> None:
        text = (
            "# Title\nIntro text\n- first item\n- second item\n1. step\n\n"
            "A wrapped\nline ends here.\n一、总则\n二、范围"
        )
        assert split_sentences(text) == [
            "# Title\n",
            "Intro text\n",
            "- first item\n",
            "- second item\n",
            "1. step\n\n",
            "A wrapped\nline ends here.\n",
            "一、总则\n",
            "二、范围",
        ]

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "   ",
            "\n\n  Leading blank lines. Trailing space.  \n\n\n",
            "Windows\r\nline ends.\r\n\r\nNext paragraph!\r\n",
            "表情👍🏽很好。Café naïve e\u0301. 🇩🇪 Flagge!",
            "No terminal punctuation at all",
            "...?!。。",
        ],
    )
    def test_round_trip_is_exact(self, text: str) -> None:
        sentences = split_sentences(text)
        assert "".join(sentences) == text
        assert all(sentences)

    def test_whitespace_goes_with_the_preceding_sentence(self) -> None:
        assert split_sentences("One.  Two.\n\nThree.") == ["One.  ", "Two.\n\n", "Three."]
        assert split_sentences("") == []


class TestChunker:
    @pytest.mark.parametrize(("max_tokens", "overlap"), [(16, 0), (40, 8), (64, 31), (256, 32)])
    def test_chunks_stay_within_max_tokens_and_cover_every_sentence(
        self, max_tokens: int, overlap: int
    ) -> None:
        sentences = numbered_sentences(150)
        text = "".join(s + ("\n\n" if i % 7 == 6 else " ") for i, s in enumerate(sentences))
        chunks = Chunker(fake_tokens, max_tokens=max_tokens, overlap_tokens=overlap).split_text(text)
        assert all(0 < fake_tokens(chunk) <= max_tokens for chunk in chunks)
        assert all(chunk == chunk.strip() for chunk in chunks)
        joined = "\n".join(chunks)
        for sentence in sentences:
            if fake_tokens(sentence) <= max_tokens:
                assert sentence in joined

    def test_without_overlap_chunks_partition_the_text(self) -> None:
        text = " ".join(numbered_sentences(80))
        chunks = Chunker(fake_tokens, max_tokens=50, overlap_tokens=0).split_text(text)
        assert " ".join(chunks) == text
        assert len(chunks) > 5

    def test_overlap_repeats_the_last_whole_sentences_within_the_budget(self) -> None:
        sentences = numbered_sentences(60)  # distinct, none a substring of another, each <= 24 tokens
        chunks = Chunker(fake_tokens, max_tokens=60, overlap_tokens=20).split_text(" ".join(sentences))
        ranges = [[i for i, s in enumerate(sentences) if s in chunk] for chunk in chunks]
        assert all(r == list(range(r[0], r[-1] + 1)) for r in ranges), "chunks hold consecutive sentences"
        for previous, current in pairwise(ranges):
            shared = [i for i in current if i in previous]
            assert shared == previous[len(previous) - len(shared) :] == current[: len(shared)]
            assert sum(fake_tokens(sentences[i]) for i in shared) <= 20
            longer = previous[-len(shared) - 1 :]
            assert len(longer) == len(previous) or sum(fake_tokens(sentences[i]) for i in longer) > 20
        assert sum(1 for p, c in pairwise(ranges) if p[-1] in c) > len(chunks) // 2

    def test_no_overlap_when_the_last_sentence_alone_exceeds_it(self) -> None:
        first = "Alpha " + " ".join(["word"] * 20) + "."
        second = "Beta " + " ".join(["word"] * 20) + "."
        chunks = Chunker(fake_tokens, max_tokens=30, overlap_tokens=10).split_text(f"{first} {second}")
        assert chunks == [first, second]

    def test_long_chinese_sentence_is_cut_at_clause_punctuation(self) -> None:
        clauses = ["绿茶的水温" + "很重要" * i + "，" for i in range(1, 7)]  # 9 to 24 tokens each
        text = "".join(clauses) + "最后一句。"
        chunks = Chunker(fake_tokens, max_tokens=24, overlap_tokens=0).split_text(text)
        assert len(chunks) > 1
        assert "".join(chunks) == text
        assert all(fake_tokens(chunk) <= 24 for chunk in chunks)
        assert all(chunk.endswith(("，", "。")) for chunk in chunks)

    def test_long_latin_run_is_cut_between_words(self) -> None:
        def subwords(text: str) -> int:  # three letters a token, so a cut inside a word would fit too
            return sum(-(-len(word) // 3) for word in text.split())

        words = [f"w{i:03d}" + "x" * (i % 13) for i in range(300)]  # 2 to 6 tokens each
        text = " ".join(words)
        chunks = Chunker(subwords, max_tokens=40, overlap_tokens=0).split_text(text)
        assert all(subwords(chunk) <= 40 for chunk in chunks)
        assert " ".join(chunks) == text
        assert all(set(chunk.split()) <= set(words) for chunk in chunks)
        sizes = [subwords(chunk) for chunk in chunks]
        assert min(sizes) >= max(sizes) // 2, f"pieces should be of even size, got {sizes}"

    def test_long_cjk_run_without_punctuation_is_cut_by_characters(self) -> None:
        text = "这是一个没有标点的很长句子" * 40
        chunks = Chunker(fake_tokens, max_tokens=50, overlap_tokens=0).split_text(text)
        assert "".join(chunks) == text
        assert all(fake_tokens(chunk) <= 50 for chunk in chunks)

    def test_cuts_never_split_a_grapheme(self) -> None:
        text = "e\u0301👍🏽👨\u200d👩\u200d👧🇩🇪🇫🇷" * 50
        chunks = Chunker(len, max_tokens=16, overlap_tokens=0).split_text(text)
        assert "".join(chunks) == text
        assert all(len(chunk) <= 16 for chunk in chunks)
        for chunk in chunks:
            assert unicodedata.category(chunk[0])[0] != "M"
            assert chunk[0] not in "\u200d\U0001f3fd" and chunk[-1] != "\u200d"
            flags = len(chunk) - len(chunk.lstrip("🇩🇪🇫🇷"))
            assert flags % 2 == 0 or chunk.lstrip("🇩🇪🇫🇷") == ""

    def test_paragraph_end_closes_a_chunk_that_is_half_full(self) -> None:
        first = " ".join(["word"] * 23) + "."  # 24 tokens: more than half of 40
        second = "Alpha beta gamma. Delta epsilon zeta."  # would still fit
        chunks = Chunker(fake_tokens, max_tokens=40, overlap_tokens=0).split_text(f"{first}\n\n{second}")
        assert chunks == [first, second]

    def test_small_paragraphs_are_packed_together(self) -> None:
        text = "Short one.\n\nShort two.\n\nShort three."
        assert Chunker(fake_tokens, max_tokens=40, overlap_tokens=0).split_text(text) == [text]

    def test_mixed_chinese_english_and_code(self) -> None:
        text = "如何撤销最后一次提交？可以使用 `git reset --soft HEAD~1` 命令，它会保留工作区的修改。" * 6
        chunks = Chunker(fake_tokens, max_tokens=32, overlap_tokens=8).split_text(text)
        assert all(fake_tokens(chunk) <= 32 for chunk in chunks)
        assert all("`git reset --soft HEAD~1`" in chunk for chunk in chunks if "git" in chunk)

    @pytest.mark.parametrize("text", ["", "   ", "\n\n\t\n"])
    def test_text_without_content_gives_no_chunks(self, text: str) -> None:
        counter = CountingTokens()
        assert Chunker(counter).split_text(text) == []
        assert counter.calls == 0

    def test_each_sentence_is_counted_once(self) -> None:
        sentences = numbered_sentences(400)
        counter = CountingTokens()
        chunks = Chunker(counter, max_tokens=64, overlap_tokens=16).split_text(" ".join(sentences))
        assert counter.calls <= len(sentences) + len(chunks) + 1

    def test_tokens_added_per_call_are_counted_once_per_chunk(self) -> None:
        text = " ".join(numbered_sentences(100))
        plain = Chunker(fake_tokens, max_tokens=64, overlap_tokens=0).split_text(text)
        counter = CountingTokens(extra_per_call=4)  # like [CLS] ... [SEP]
        chunks = Chunker(counter, max_tokens=64, overlap_tokens=0).split_text(text)
        assert max(counter(chunk) for chunk in chunks) <= 64
        assert len(chunks) <= len(plain) * 1.1, "4 tokens a chunk, not 4 a sentence, go to special tokens"

    def test_a_tokenizer_that_merges_across_sentences_is_still_respected(self) -> None:
        def glued(text: str) -> int:  # each space between sentences costs a token of its own
            return fake_tokens(text) + text.count(". ")

        chunks = Chunker(glued, max_tokens=30, overlap_tokens=5).split_text(" ".join(numbered_sentences(80)))
        assert all(glued(chunk) <= 30 for chunk in chunks)

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"max_tokens": 15}, "max_tokens must be at least 16"),
            ({"max_tokens": 64, "overlap_tokens": -1}, "overlap_tokens"),
            ({"max_tokens": 64, "overlap_tokens": 32}, "less than half of max_tokens"),
        ],
    )
    def test_invalid_parameters_are_rejected(self, kwargs: dict[str, int], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            Chunker(fake_tokens, **kwargs)


class TestChunkerAsTextSplitter:
    def test_is_a_text_splitter_with_its_sizes_in_tokens(self) -> None:
        chunker = Chunker(fake_tokens, max_tokens=64, overlap_tokens=8)
        assert isinstance(chunker, TextSplitter)
        assert (chunker.max_tokens, chunker.overlap_tokens) == (64, 8)
        assert (chunker._chunk_size, chunker._chunk_overlap) == (64, 8)
        assert chunker._length_function is fake_tokens

    def test_split_documents_chunks_each_document_and_carries_its_metadata(self) -> None:
        chunker = Chunker(fake_tokens, max_tokens=40, overlap_tokens=8)
        long_text = " ".join(numbered_sentences(30))
        documents = [
            Document(page_content=long_text, metadata={"title": "Long", "lang": "en", "line": 1}),
            Document(page_content="Short one.", metadata={"title": "Short"}),
            Document(page_content="  \n\n ", metadata={"title": "Blank"}),
        ]
        chunks = chunker.split_documents(documents)
        expected = chunker.split_text(long_text)
        assert len(expected) > 1
        assert [chunk.page_content for chunk in chunks] == [*expected, "Short one."]
        assert all(chunk.metadata == documents[0].metadata for chunk in chunks[:-1])
        assert chunks[-1].metadata == {"title": "Short"}
        chunks[0].metadata["title"] = "changed"
        assert documents[0].metadata["title"] == "Long", "each chunk gets its own copy of the metadata"

    def test_create_documents_pairs_texts_with_metadatas(self) -> None:
        chunker = Chunker(fake_tokens, max_tokens=40, overlap_tokens=0)
        created = chunker.create_documents(["One. Two.", "Three."], metadatas=[{"n": 1}, {"n": 2}])
        pairs = [(document.page_content, document.metadata) for document in created]
        assert pairs == [("One. Two.", {"n": 1}), ("Three.", {"n": 2})]


class TestWiden:
    @staticmethod
    def words(text: str) -> int:
        return len(text.split())

    def test_nearest_sentences_first_in_turn_within_the_budget_and_overlap_once(self) -> None:
        from babelrag.stores.chunking import widen

        before, text, after = "A one.\n\nA two. C one.", "C one. C two.", "C two. B one. B two."
        assert widen(text, before, after, self.words, 12) == "A two. C one. C two. B one."
        assert widen(text, before, after, self.words, 4) == text  # no room
        assert widen(text, None, None, self.words, 100) == text
        widened = widen("中文句子。", "前面的句子。", "后面的句子。", len, 20)
        assert widened == "前面的句子。中文句子。后面的句子。"

    def test_line_breaks_of_the_neighbours_are_kept(self) -> None:
        from babelrag.stores.chunking import widen

        assert widen("Body.", "Heading\n\nIntro.\n\n", None, self.words, 50) == "Heading\n\nIntro.\n\nBody."
