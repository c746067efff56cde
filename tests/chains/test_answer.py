"""The answer chain end to end with fakes: a scripted chat model, the keyword embedder, a real store."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from pydantic import Field

from babelrag.chains.answer import (
    ANSWER_VARIABLES,
    REWRITE_VARIABLES,
    AnswerChain,
    AnswerResult,
    pack_passages,
)
from babelrag.chains.generator import Decoding
from babelrag.chains.grounding import Grounder
from babelrag.chains.prompting import load_messages, load_prompt
from babelrag.chains.retrieval import CrossLingualRetriever
from babelrag.stores.fakes import KeywordEmbeddings
from babelrag.stores.knowledge_store import KnowledgeStore, SearchHit, open_chroma_client
from babelrag.stores.langdetect import detect_language
from tests.store_cases import make_ingestor

pytestmark = pytest.mark.unit

_TOKEN = re.compile(r"[\u3040-\u9fff]|[^\s\u3040-\u9fff]+")


def count_tokens(text: str) -> int:
    """Whitespace-separated words, and CJK characters one by one."""
    return len(_TOKEN.findall(text))


class FakeGenerator(FakeListChatModel):
    """What AnswerChain needs of LocalChatModel: scripted replies, token counts, decoding."""

    decoding: Decoding = Decoding(max_new_tokens=500)
    seen: list[list[BaseMessage]] = Field(default_factory=list)
    decodings: list[Any] = Field(default_factory=list)

    def count_tokens(self, text: str) -> int:
        return count_tokens(text)

    def prompt_tokens(self, messages: list[BaseMessage]) -> int:
        return sum(count_tokens(str(m.content)) + 4 for m in messages)

    def _record(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> None:
        self.seen.append(list(messages))
        self.decodings.append(kwargs.get("decoding"))

    def _call(self, messages, stop=None, run_manager=None, **kwargs):
        self._record(messages, kwargs)
        return super()._call(messages, stop, run_manager, **kwargs)

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        self._record(messages, kwargs)
        yield from super()._stream(messages, stop, run_manager, **kwargs)


class StepRecorder(BaseCallbackHandler):
    """Names of the chain runs LangChain reports, in start order, and chat-model runs."""

    def __init__(self) -> None:
        self.chains: list[str | None] = []
        self.parents: list[Any] = []
        self.chat_models = 0

    def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
        self.chains.append(kwargs.get("name"))
        self.parents.append(kwargs.get("parent_run_id"))

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.chat_models += 1


class FakeTranslator:
    id = "fake:dict"

    def __init__(self, table: dict[tuple[str, str, str], str]) -> None:
        self.table = table

    def translate(self, text: str, source: str, target: str) -> str:
        return self.table.get((text, source, target), "")


QUESTION_EN = "How hot should the water be for green tea?"
QUESTION_ZH = "绿茶应该用多少度的水冲泡？"
REPLY_EN = "Green tea tastes best with water at 80 degrees."
KB = {
    "tea.md": "# Brewing green tea\n\nGreen tea tastes best with water at 80 degrees. "
    "Steep the leaves for two minutes.\n",
    "bike.md": "# Fahrradkette\n\nEine Fahrradkette sollte alle 300 Kilometer geölt werden.\n",
    "tea_zh.md": "# 绿茶\n\n绿茶最好用80度的水冲泡，浸泡两分钟。\n",
}
TRANSLATIONS = {
    (QUESTION_EN, "en", "zh"): QUESTION_ZH,
    (QUESTION_EN, "en", "de"): "Wie heiß sollte das Wasser für grünen Tee sein?",
    (QUESTION_ZH, "zh", "en"): QUESTION_EN,
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeStore:
    """Shared by the tests of this module, which only read it."""
    root = tmp_path_factory.mktemp("answer")
    kb = root / "kb"
    kb.mkdir()
    for name, text in KB.items():
        (kb / name).write_text(text, encoding="utf-8")
    ing = make_ingestor(root, KeywordEmbeddings(dimension=512))
    assert len(ing.ingest([kb]).added) == len(KB)
    return ing.store


def make_pipeline(store: KnowledgeStore, llm: FakeGenerator, **kwargs: Any) -> AnswerChain:
    retriever = CrossLingualRetriever(
        store=store, detect_language=detect_language, translator=FakeTranslator(TRANSLATIONS), k=3
    )
    settings: dict[str, Any] = {"context_tokens": 1000, "max_new_tokens": 100, **kwargs}
    grounder = Grounder(
        embed_sentences=store.embedder.embed_queries, passage_vectors=store.vectors, min_similarity=0.5
    )
    return AnswerChain(
        retriever=retriever,
        llm=llm,
        grounder=grounder,
        answer_prompt=load_prompt("answer", variables=ANSWER_VARIABLES),
        rewrite_prompt=load_prompt("rewrite_in_language", variables=REWRITE_VARIABLES),
        messages=load_messages(),
        detect_language=detect_language,
        **settings,
    )


def hit(cid: str, text: str, title: str = "T") -> SearchHit:
    return SearchHit(id=cid, source=f"{cid}.md", title=title, lang="en", score=0.5, text=text)


def words(n: int, prefix: str = "w") -> str:
    return " ".join(f"{prefix}{i}" for i in range(n))


class TestPackPassages:
    def test_whole_passages_within_the_budget(self) -> None:
        hits = [hit(c, words(10, c)) for c in "abc"]  # each block: "[n] T" + 10 words = 12 tokens, +2
        text, used = pack_passages(hits, count_tokens=count_tokens, budget=30, min_tail=5)
        assert [h.id for h in used] == ["a", "b"], "14 + 14 fit in 30; 2 tokens left are below min_tail"
        assert text == f"[1] T\n{words(10, 'a')}\n\n[2] T\n{words(10, 'b')}"
        assert count_tokens(text) <= 30

    def test_the_last_passage_is_cut_when_enough_room_remains(self) -> None:
        hits = [hit("a", words(10, "a")), hit("b", words(30, "b")), hit("c", words(5, "c"))]
        text, used = pack_passages(hits, count_tokens=count_tokens, budget=30, min_tail=5)
        assert [h.id for h in used] == ["a", "b"], "nothing after a cut passage"
        last = text.split("\n\n")[-1]
        # 16 tokens left after "a"; the header takes 2, 2 are kept in reserve: 12 words of "b"
        assert last == f"[2] T\n{words(12, 'b')} …"
        assert count_tokens(text) <= 30

    def test_no_cut_below_min_tail(self) -> None:
        hits = [hit("a", words(10, "a")), hit("b", words(30, "b"))]
        _, used = pack_passages(hits, count_tokens=count_tokens, budget=30, min_tail=15)
        assert [h.id for h in used] == ["a"]

    def test_cjk_text_is_cut_by_characters(self) -> None:
        hits = [hit("zh", "绿茶最好用八十度的水冲泡，浸泡两分钟。" * 5, title="绿茶")]
        text, used = pack_passages(hits, count_tokens=count_tokens, budget=20, min_tail=5, number=False)
        assert used == hits
        assert text.startswith("绿茶\n绿茶最好用") and text.endswith(" …")
        assert count_tokens(text) <= 20

    @pytest.mark.parametrize("budget", [0, 7, 13, 29, 50, 200])
    def test_never_over_budget(self, budget: int) -> None:
        hits = [hit(c, words(n, c)) for c, n in zip("abcd", (10, 25, 3, 40), strict=True)]
        text, used = pack_passages(hits, count_tokens=count_tokens, budget=budget, min_tail=4)
        assert count_tokens(text) <= budget
        assert [h.id for h in used] == ["a", "b", "c", "d"][: len(used)], "in retrieval order"

    def test_numbering_off(self) -> None:
        text, _ = pack_passages(
            [hit("a", "alpha text", "A"), hit("b", "beta text", "B")],
            count_tokens=count_tokens,
            budget=100,
            number=False,
        )
        assert text == "A\nalpha text\n\nB\nbeta text"

    def test_nothing_to_pack(self) -> None:
        assert pack_passages([], count_tokens=count_tokens, budget=100) == ("", [])


class TestAnswerChain:
    def test_answer_is_grounded_and_sources_are_the_passages_given(self, store) -> None:
        llm = FakeGenerator(responses=[REPLY_EN])
        pipeline = make_pipeline(store, llm)
        result = pipeline.invoke({"question": QUESTION_EN})

        assert not result.no_answer and result.lang == "en"
        assert len(llm.seen) == 1
        prompt = str(llm.seen[0][-1].content)
        assert result.passages and all(p.text in prompt for p in result.passages)
        assert "[1]" not in prompt, "passages are not numbered by default"
        assert QUESTION_EN in prompt and "Always reply in English" in str(llm.seen[0][0].content)

        tea = next(i for i, p in enumerate(result.passages, 1) if p.source.endswith("tea.md"))
        assert result.answer == f"Green tea tastes best with water at 80 degrees[{tea}]."
        assert result.sources == [{"ref": tea, **result.passages[tea - 1].to_dict()}]
        assert set(result.sources[0]) == {"ref", "id", "source", "title", "lang", "score", "text", "metadata"}
        assert {"rrf", "matched_by"} <= set(result.sources[0]["metadata"])
        assert result.translations == {"zh": QUESTION_ZH, "de": TRANSLATIONS[(QUESTION_EN, "en", "de")]}
        assert result.generation["raw_answer"] == REPLY_EN
        assert llm.decodings == [Decoding(max_new_tokens=100)], "the pipeline's max_new_tokens"

    def test_explicit_decoding_is_passed_on(self, store) -> None:
        llm = FakeGenerator(responses=[REPLY_EN])
        decoding = Decoding(strategy="beam", num_beams=3, max_new_tokens=42)
        make_pipeline(store, llm).invoke({"question": QUESTION_EN, "decoding": decoding})
        assert llm.decodings == [decoding]

    def test_prompt_fits_the_context_budget(self, store) -> None:
        llm = FakeGenerator(responses=[REPLY_EN])
        roomy = make_pipeline(store, llm).invoke({"question": QUESTION_EN})
        tight = make_pipeline(store, llm, context_tokens=170, max_new_tokens=100).invoke(
            {"question": QUESTION_EN}
        )
        assert 0 < len(tight.passages) < len(roomy.passages)
        assert llm.prompt_tokens(llm.seen[-1]) + 100 <= 170

    def test_invented_number_gives_the_no_answer_message_in_the_question_language(self, store) -> None:
        supported = make_pipeline(store, FakeGenerator(responses=["绿茶最好用80度的水冲泡。"])).invoke(
            {"question": QUESTION_ZH}
        )
        assert not supported.no_answer and supported.answer.startswith("绿茶最好用80度的水冲泡[")

        invented = make_pipeline(store, FakeGenerator(responses=["绿茶最好用95度的水冲泡。"])).invoke(
            {"question": QUESTION_ZH}
        )
        assert invented.no_answer and invented.lang == "zh"
        assert invented.answer == load_messages()["no_answer"]["zh"] == "知识库中没有这个问题的答案。"
        assert invented.sources == []
        assert any("95" in note for note in invented.notes), "the dropped sentence is reported"

    def test_model_saying_no_answer(self, store) -> None:
        result = make_pipeline(store, FakeGenerator(responses=["NO_ANSWER"])).invoke(
            {"question": QUESTION_EN}
        )
        assert result.no_answer and result.answer == load_messages()["no_answer"]["en"]

    def test_empty_knowledge_base_does_not_call_the_model(self, tmp_path: Path) -> None:
        empty = KnowledgeStore(
            client=open_chroma_client(tmp_path / "chroma"), name="empty", embedder=KeywordEmbeddings(512)
        )
        llm = FakeGenerator(responses=[REPLY_EN])
        pipeline = make_pipeline(empty, llm)
        result = pipeline.invoke({"question": QUESTION_EN})
        assert result.no_answer and result.answer == load_messages()["no_answer"]["en"]
        assert result.passages == [] and result.sources == []
        assert "no passages were found" in result.notes
        assert (
            list(pipeline.stream({"question": QUESTION_ZH}))[-1].answer == load_messages()["no_answer"]["zh"]
        )
        assert pipeline.invoke({"question": QUESTION_EN}).no_answer
        assert llm.seen == []

    def test_reply_in_the_wrong_language_is_rewritten_once(self, store) -> None:
        german = "Grüner Tee schmeckt am besten mit Wasser bei 80 Grad."
        llm = FakeGenerator(responses=[german, REPLY_EN])
        result = make_pipeline(store, llm).invoke({"question": QUESTION_EN})

        assert len(llm.seen) == 2
        rewrite = llm.seen[1]
        assert "into English" in str(rewrite[0].content)
        assert rewrite[-1].content == german
        assert result.answer.startswith("Green tea tastes best with water at 80 degrees[")
        assert result.notes[0] == "the model answered in German; rewritten in English"
        assert "rewrite_s" in result.timings
        assert result.generation["raw_answer"] == german

    def test_failed_rewrite_is_noted(self, store) -> None:
        german = "Grüner Tee schmeckt am besten mit Wasser bei 80 Grad."
        llm = FakeGenerator(responses=[german, german])
        result = make_pipeline(store, llm).invoke({"question": QUESTION_EN})
        assert len(llm.seen) == 2
        assert result.notes[0] == "the model answered in German, not English"

    def test_rewrite_can_be_switched_off(self, store) -> None:
        llm = FakeGenerator(responses=["Grüner Tee schmeckt am besten mit Wasser bei 80 Grad.", REPLY_EN])
        make_pipeline(store, llm, rewrite_wrong_language=False).invoke({"question": QUESTION_EN})
        assert len(llm.seen) == 1

    def test_stream_yields_text_then_the_result(self, store) -> None:
        llm = FakeGenerator(responses=[REPLY_EN])
        items = list(make_pipeline(store, llm).stream({"question": QUESTION_EN}))
        *pieces, result = items
        assert len(pieces) > 1 and all(isinstance(p, str) for p in pieces)
        assert "".join(pieces) == REPLY_EN
        assert isinstance(result, AnswerResult)
        assert result.answer.startswith("Green tea tastes best with water at 80 degrees[")
        assert llm.decodings == [Decoding(max_new_tokens=100)]

    def test_invoke_with_a_bare_question(self, store) -> None:
        llm = FakeGenerator(responses=[REPLY_EN])
        result = make_pipeline(store, llm).invoke(QUESTION_EN)  # a bare question, as LangChain users pass
        assert isinstance(result, AnswerResult) and not result.no_answer
        assert result.answer.startswith("Green tea tastes best with water at 80 degrees[")

    def test_invoke_takes_the_answer_language(self, store) -> None:
        llm = FakeGenerator(responses=["NO_ANSWER"])
        result = make_pipeline(store, llm).invoke({"question": QUESTION_EN, "lang": "de"})
        assert result.lang == "de"
        assert "Always reply in German" in str(llm.seen[0][0].content)
        assert result.answer == load_messages()["no_answer"]["de"]

    @pytest.mark.parametrize("how", ["invoke", "stream"])
    def test_callbacks_see_every_step(self, store, how: str) -> None:
        recorder = StepRecorder()
        chain = make_pipeline(store, FakeGenerator(responses=[REPLY_EN]))
        config: RunnableConfig = {"callbacks": [recorder]}
        if how == "invoke":
            chain.invoke({"question": QUESTION_EN}, config)
        else:
            assert isinstance(list(chain.stream({"question": QUESTION_EN}, config))[-1], AnswerResult)
        steps = ["cross_lingual_answer", "retrieve_and_pack", "cross_lingual_retrieve", "translate"]
        assert recorder.chains[:4] == steps and recorder.chains[-1] == "ground_and_check"
        assert recorder.chat_models == 1, "the generation is seen as a chat-model run"
        assert recorder.parents[1:] and all(recorder.parents[1:]), "every step is a child of the answer run"

    def test_to_dict(self, store) -> None:
        result = make_pipeline(store, FakeGenerator(responses=[REPLY_EN])).invoke({"question": QUESTION_EN})
        data = result.to_dict()
        assert {"answer", "lang", "sources", "translations", "timings"} <= set(data)
        assert data["answer"] == result.answer and data["sources"] == result.sources
        assert data["translations"] == result.translations
        assert set(data["timings"]) >= {"translate_s", "retrieve_s", "ground_s"}
        assert all(v == round(v, 3) for v in data["timings"].values())
        assert json.loads(json.dumps(data, ensure_ascii=False)) == data


def test_passages_are_widened_with_their_neighbours_when_asked(store) -> None:
    """Small-to-big: the generator sees the matched chunk with the sentences around it."""
    before, after = "Water comes first.", "Then drink it. Enjoy the cup with friends."
    calls: list[str] = []

    def neighbours(hit: SearchHit) -> tuple[str | None, str | None]:
        calls.append(hit.id)
        return (before, after) if hit.source.endswith("tea.md") else (None, None)

    llm = FakeGenerator(responses=[REPLY_EN])
    pipeline = make_pipeline(store, llm, neighbours=neighbours, passage_tokens=30)
    result = pipeline.invoke({"question": QUESTION_EN})
    tea = next(p for p in result.passages if p.source.endswith("tea.md"))
    assert tea.text.startswith("Water comes first. ") and tea.text.endswith("Then drink it.")  # 30 tokens
    assert tea.metadata["widened"] is True and tea.text in str(llm.seen[0][-1].content)
    assert len(calls) == len(result.passages)
    # 0 switches it off
    llm = FakeGenerator(responses=[REPLY_EN])
    pipeline = make_pipeline(store, llm, neighbours=neighbours, passage_tokens=0)
    plain = pipeline.invoke({"question": QUESTION_EN})
    assert all("widened" not in p.metadata for p in plain.passages)
