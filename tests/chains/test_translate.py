"""Query translation: cleaning model output, choosing targets, filtering results, caching."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from pydantic import Field

from babelrag.chains.prompting import load_prompt
from babelrag.chains.translate import (
    TRANSLATE_VARIABLES,
    CachedTranslator,
    LLMTranslator,
    RoutingTranslator,
    TranslationCache,
    clean_translation,
    translate_query,
    translation_targets,
)

pytestmark = pytest.mark.unit


class DictTranslator:
    """Looks translations up by (text, source, target); counts calls."""

    def __init__(self, table: dict[tuple[str, str, str], str], id: str = "fake:dict") -> None:
        self.table = table
        self.id = id
        self.calls: list[tuple[str, str, str]] = []

    def translate(self, text: str, source: str, target: str) -> str:
        self.calls.append((text, source, target))
        return self.table.get((text, source, target), "")


class RecordingChat(FakeListChatModel):
    """FakeListChatModel that keeps the messages it was sent."""

    seen: list[list[Any]] = Field(default_factory=list)

    def _call(self, messages: list[Any], *args: Any, **kwargs: Any) -> str:
        self.seen.append(list(messages))
        return super()._call(messages, *args, **kwargs)


class TestCleanTranslation:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("Translation: Wie spät ist es?", "Wie spät ist es?"),
            ("translated query: Wie spät ist es?", "Wie spät ist es?"),
            ("翻译：如何撤销提交？", "如何撤销提交？"),
            ("German: Wie spät ist es?", "Wie spät ist es?"),
            ("「如何撤销提交」", "如何撤销提交"),
            ("“How do I undo a commit?”", "How do I undo a commit?"),
            ("\"'nested quotes'\"", "nested quotes"),
            ("**Wie spät ist es?**", "Wie spät ist es?"),
            ("Wie spät ist es?\nThis asks for the time.\nHope that helps!", "Wie spät ist es?"),
            ("\n\n  Wie spät ist es?  \n", "Wie spät ist es?"),
            ("Translation:\nWie spät ist es?", "Wie spät ist es?"),
            ("Wie mache ich das rückgängig? (note: informal register)", "Wie mache ich das rückgängig?"),
            ("如何撤销提交？（注：口语）", "如何撤销提交？"),
            ("<think>The user wants German.\nOK.</think>\nWie spät ist es?", "Wie spät ist es?"),
            ("Wie   spät\tist es?", "Wie spät ist es?"),
            ("   \n ", ""),
        ],
    )
    def test_cleans(self, raw: str, expected: str) -> None:
        assert clean_translation(raw) == expected

    def test_code_and_parentheses_inside_the_query_stay(self) -> None:
        text = "Wie benutze ich `git reset --soft HEAD~1` (ohne Datenverlust)?"
        assert clean_translation(text) == text


class TestTranslationTargets:
    def test_kb_languages_by_share_without_the_query_language(self) -> None:
        kb = {"en": 50, "de": 30, "zh": 20}
        assert translation_targets("en", kb) == ["de", "zh"]
        assert translation_targets("zh", kb) == ["en", "de"], "most chunks first"

    def test_ties_are_ordered_by_code(self) -> None:
        assert translation_targets("fr", {"zh": 10, "de": 10, "en": 10}) == ["de", "en", "zh"]

    def test_min_share(self) -> None:
        kb = {"en": 90, "de": 6, "fr": 4}  # fr holds 4 % of the chunks
        assert translation_targets("zh", kb) == ["en", "de"]
        assert translation_targets("zh", kb, min_share=0.01) == ["en", "de", "fr"]
        assert translation_targets("zh", kb, min_share=0.5) == ["en"]

    def test_configured_targets_override_kb_languages(self) -> None:
        kb = {"en": 100}
        assert translation_targets("en", kb, configured=["fr", "de"]) == ["fr", "de"]
        assert translation_targets("de", kb, configured=["fr", "de", "fr", ""]) == ["fr"]

    def test_max_targets(self) -> None:
        kb = {"en": 4, "de": 3, "fr": 2, "es": 1}
        assert translation_targets("zh", kb, max_targets=2) == ["en", "de"]
        assert translation_targets("zh", kb, max_targets=0) == []

    def test_undetermined_is_never_a_target(self) -> None:
        assert translation_targets("en", {"und": 60, "de": 40}) == ["de"]
        assert translation_targets("en", {}, configured=["und", "ja"]) == ["ja"]

    def test_monolingual_kb_in_the_query_language_needs_no_translation(self) -> None:
        assert translation_targets("en", {"en": 12}) == []
        assert translation_targets("en", {}) == []


class TestTranslateQuery:
    QUERY = "How do I undo a commit?"

    def test_translates_into_each_target(self) -> None:
        translator = DictTranslator(
            {
                (self.QUERY, "en", "de"): "Wie mache ich einen Commit rückgängig?",
                (self.QUERY, "en", "zh"): "如何撤销提交？",
            }
        )
        out = translate_query(translator, self.QUERY, "en", ["de", "zh"])
        assert out == {"de": "Wie mache ich einen Commit rückgängig?", "zh": "如何撤销提交？"}
        # concurrent: every target is asked once, in whatever order the threads start
        assert sorted(translator.calls) == [(self.QUERY, "en", "de"), (self.QUERY, "en", "zh")]

    def test_source_language_is_skipped_without_a_call(self) -> None:
        translator = DictTranslator({(self.QUERY, "en", "de"): "Wie mache ich das rückgängig?"})
        assert translate_query(translator, self.QUERY, "en", ["en", "de"]) == {
            "de": "Wie mache ich das rückgängig?"
        }
        assert [c[2] for c in translator.calls] == ["de"]

    def test_drops_empty_identical_and_duplicate_results(self) -> None:
        translator = DictTranslator(
            {
                (self.QUERY, "en", "fr"): "   ",
                (self.QUERY, "en", "nl"): " how do I undo a COMMIT? ",  # unchanged, modulo case
                (self.QUERY, "en", "de"): "Wie mache ich das rückgängig?",
                (self.QUERY, "en", "lb"): "wie mache ich das rückgängig?",  # same as the German one
            }
        )
        out = translate_query(translator, self.QUERY, "en", ["fr", "nl", "de", "lb", "es"])
        assert out == {"de": "Wie mache ich das rückgängig?"}

    def test_drops_results_in_another_language_than_the_target(self) -> None:
        translator = DictTranslator(
            {
                (self.QUERY, "en", "de"): "Wie mache ich das rückgängig?",
                (self.QUERY, "en", "zh"): "You can use git reset to undo it.",  # answered instead
                (self.QUERY, "en", "ja"): "git reset --soft HEAD~1",  # nothing to detect
            }
        )
        detected = {
            "Wie mache ich das rückgängig?": "de",
            "You can use git reset to undo it.": "en",
            "git reset --soft HEAD~1": "und",
        }
        out = translate_query(translator, self.QUERY, "en", ["de", "zh", "ja"], detect_language=detected.get)
        assert out == {"de": "Wie mache ich das rückgängig?", "ja": "git reset --soft HEAD~1"}

    def test_a_result_in_another_target_language_stands_in_for_that_target(self) -> None:
        query = "绿茶应该用多少度的水冲泡？"
        translator = DictTranslator(
            {
                (query, "zh", "en"): query,  # echoed: dropped
                (query, "zh", "de"): "At what temperature should green tea be brewed?",  # English
                (query, "zh", "fr"): "À quelle température infuser le thé vert ?",
            }
        )
        detected = {
            "At what temperature should green tea be brewed?": "en",
            "À quelle température infuser le thé vert ?": "fr",
        }
        out = translate_query(translator, query, "zh", ["en", "de", "fr"], detect_language=detected.get)
        assert out == {
            "en": "At what temperature should green tea be brewed?",
            "fr": "À quelle température infuser le thé vert ?",
        }

    def test_a_targets_own_translation_replaces_its_stand_in(self) -> None:
        translator = DictTranslator(
            {
                (self.QUERY, "en", "de"): "Comment annuler un commit ?",  # French, asked German
                (self.QUERY, "en", "fr"): "Comment puis-je annuler un commit ?",
            }
        )
        detected = {"Comment annuler un commit ?": "fr", "Comment puis-je annuler un commit ?": "fr"}
        out = translate_query(translator, self.QUERY, "en", ["de", "fr"], detect_language=detected.get)
        assert out == {"fr": "Comment puis-je annuler un commit ?"}


class TestCachedTranslator:
    def test_second_call_is_served_from_the_cache(self) -> None:
        inner = DictTranslator({("tea", "en", "de"): "Tee"})
        cached = CachedTranslator(inner, TranslationCache(":memory:"))
        assert cached.translate("tea", "en", "de") == "Tee"
        assert cached.translate("tea", "en", "de") == "Tee"
        assert len(inner.calls) == 1 and cached.calls == 1
        assert cached.id == inner.id

    def test_key_includes_languages_and_text(self) -> None:
        inner = DictTranslator(
            {("tea", "en", "de"): "Tee", ("tea", "en", "fr"): "thé", ("tee", "en", "de"): "T"}
        )
        cached = CachedTranslator(inner, TranslationCache(":memory:"))
        results = [
            cached.translate(*args)
            for args in [("tea", "en", "de"), ("tea", "en", "fr"), ("tee", "en", "de")]
        ]
        assert results == ["Tee", "thé", "T"]
        assert len(inner.calls) == 3

    def test_failed_translations_are_not_cached(self) -> None:
        inner = DictTranslator({})
        cached = CachedTranslator(inner, TranslationCache(":memory:"))
        assert cached.translate("tea", "en", "de") == ""
        inner.table[("tea", "en", "de")] = "Tee"
        assert cached.translate("tea", "en", "de") == "Tee"
        assert len(inner.calls) == 2

    def test_backends_do_not_share_entries(self) -> None:
        cache = TranslationCache(":memory:")
        first = CachedTranslator(DictTranslator({("tea", "en", "de"): "Tee"}, id="a"), cache)
        second = CachedTranslator(DictTranslator({("tea", "en", "de"): "Schwarztee"}, id="b"), cache)
        assert first.translate("tea", "en", "de") == "Tee"
        assert second.translate("tea", "en", "de") == "Schwarztee"
        assert first.translate("tea", "en", "de") == "Tee"
        assert (first.calls, second.calls) == (1, 1)

    def test_results_survive_reopening_the_file(self, tmp_path: Path) -> None:
        path = tmp_path / "cache" / "translations.sqlite"  # the folder is created
        inner = DictTranslator({("tea", "en", "de"): "Tee"})
        assert CachedTranslator(inner, TranslationCache(path)).translate("tea", "en", "de") == "Tee"
        assert path.is_file()

        reopened = CachedTranslator(DictTranslator({}), TranslationCache(path))
        assert reopened.translate("tea", "en", "de") == "Tee"
        assert reopened.calls == 0

    def test_cache_get_and_put(self, tmp_path: Path) -> None:
        cache = TranslationCache(tmp_path / "t.sqlite")
        assert cache.get("b", "en", "de", "tea") is None
        cache.put("b", "en", "de", "tea", "Tee")
        cache.put("b", "en", "de", "tea", "Grüntee")  # replaces
        assert cache.get("b", "en", "de", "tea") == "Grüntee"


class TestLLMTranslator:
    def prompt(self, user_dir: Path | None = None):
        return load_prompt("translate_query", variables=TRANSLATE_VARIABLES, user_dir=user_dir)

    def test_returns_the_cleaned_first_line(self) -> None:
        llm = RecordingChat(responses=["Translation: 如何撤销提交？\nThis asks how to undo a commit."])
        translator = LLMTranslator(llm=llm, prompt=self.prompt(), model_id="qwen")
        assert translator.translate("How do I undo a commit?", "en", "zh") == "如何撤销提交？"
        last = llm.seen[0][-1]
        assert last.type == "human"
        assert last.content == "Translate from English into Chinese:\nHow do I undo a commit?"

    def test_id_names_the_model_and_changes_with_the_prompt(self, tmp_path: Path) -> None:
        llm = FakeListChatModel(responses=["x"])
        original = LLMTranslator(llm=llm, prompt=self.prompt(), model_id="qwen")
        again = LLMTranslator(llm=llm, prompt=self.prompt(), model_id="qwen")
        assert original.id.startswith("llm:qwen:")
        assert original.id == again.id, "same prompt, same cache entries"
        assert LLMTranslator(llm=llm, prompt=self.prompt(), model_id="other").id != original.id

        text = (Path(self.prompt().metadata["path"])).read_text(encoding="utf-8")
        (tmp_path / "translate_query.yaml").write_text(
            text.replace("you never answer it.", "you never answer it, ever."), encoding="utf-8"
        )
        edited = LLMTranslator(llm=llm, prompt=self.prompt(tmp_path), model_id="qwen")
        assert edited.id != original.id

    def test_id_is_the_same_in_another_process(self) -> None:
        """The cache lives across runs, so the id must not depend on hash randomisation."""
        code = (
            "from langchain_core.language_models.fake_chat_models import FakeListChatModel\n"
            "from babelrag.chains.prompting import load_prompt\n"
            "from babelrag.chains.translate import LLMTranslator, TRANSLATE_VARIABLES\n"
            "p = load_prompt('translate_query', variables=TRANSLATE_VARIABLES)\n"
            "print(LLMTranslator(llm=FakeListChatModel(responses=['x']), prompt=p, model_id='qwen').id)\n"
        )
        here = LLMTranslator(llm=FakeListChatModel(responses=["x"]), prompt=self.prompt(), model_id="qwen")
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": "1" if os.environ.get("PYTHONHASHSEED") == "2" else "2"},
        )
        assert out.stdout.strip() == here.id

    def test_cached_llm_translator_calls_the_model_once(self) -> None:
        llm = RecordingChat(responses=["Wie spät ist es?"])
        translator = CachedTranslator(
            LLMTranslator(llm=llm, prompt=self.prompt(), model_id="qwen"), TranslationCache(":memory:")
        )
        for _ in range(3):
            assert translator.translate("What time is it?", "en", "de") == "Wie spät ist es?"
        assert len(llm.seen) == 1


class SlowTranslator(DictTranslator):
    """Waits ``delays[target]`` seconds; waits at a barrier first, which only concurrent calls pass."""

    def __init__(self, table, delays: dict[str, float], parties: int = 1) -> None:
        super().__init__(table)
        self.delays = delays
        self.barrier = threading.Barrier(parties, timeout=10)
        self.threads: set[str] = set()

    def translate(self, text: str, source: str, target: str) -> str:
        self.threads.add(threading.current_thread().name)
        self.barrier.wait()  # BrokenBarrierError if the targets were translated one after another
        time.sleep(self.delays.get(target, 0))
        return super().translate(text, source, target)


class TestConcurrentTranslateQuery:
    QUERY = "How do I undo a commit?"
    TABLE: ClassVar[dict[tuple[str, str, str], str]] = {
        (QUERY, "en", "de"): "Wie mache ich einen Commit rückgängig?",
        (QUERY, "en", "zh"): "如何撤销提交？",
        (QUERY, "en", "fr"): "Comment annuler un commit ?",
    }

    def test_targets_are_translated_at_the_same_time(self) -> None:
        translator = SlowTranslator(self.TABLE, {}, parties=3)
        out = translate_query(translator, self.QUERY, "en", ["de", "zh", "fr"])
        assert out == {t: self.TABLE[(self.QUERY, "en", t)] for t in ["de", "zh", "fr"]}
        assert len(translator.threads) == 3

    def test_order_is_the_targets_not_the_finishing_order(self) -> None:
        translator = SlowTranslator(self.TABLE, {"de": 0.3, "zh": 0.1, "fr": 0.0}, parties=3)
        out = translate_query(translator, self.QUERY, "en", ["de", "zh", "fr"])
        assert list(out) == ["de", "zh", "fr"]

    def test_stand_in_rules_do_not_depend_on_timing(self) -> None:
        """The stand-in test above, with the target's own translation finishing first."""
        table = {
            (self.QUERY, "en", "de"): "Comment annuler un commit ?",  # French, asked German
            (self.QUERY, "en", "fr"): "Comment puis-je annuler un commit ?",
        }
        detected = {"Comment annuler un commit ?": "fr", "Comment puis-je annuler un commit ?": "fr"}
        for delays in ({"de": 0.2}, {"fr": 0.2}):
            translator = SlowTranslator(table, delays, parties=2)
            out = translate_query(translator, self.QUERY, "en", ["de", "fr"], detect_language=detected.get)
            assert out == {"fr": "Comment puis-je annuler un commit ?"}, delays

    def test_one_target_runs_in_the_callers_thread(self) -> None:
        translator = SlowTranslator(self.TABLE, {})
        assert translate_query(translator, self.QUERY, "en", ["en", "zh"]) == {"zh": "如何撤销提交？"}
        assert translator.threads == {threading.current_thread().name}

    def test_an_engine_error_reaches_the_caller(self) -> None:
        class Broken(DictTranslator):
            def translate(self, text: str, source: str, target: str) -> str:
                if target == "zh":
                    raise RuntimeError("engine down")
                return super().translate(text, source, target)

        with pytest.raises(RuntimeError, match="engine down"):
            translate_query(Broken(self.TABLE), self.QUERY, "en", ["de", "zh"])

    def test_cached_translator_counts_calls_from_threads(self) -> None:
        cached = CachedTranslator(SlowTranslator(self.TABLE, {}, parties=3), TranslationCache(":memory:"))
        translate_query(cached, self.QUERY, "en", ["de", "zh", "fr"])
        assert cached.calls == 3
        translate_query(cached, self.QUERY, "en", ["de", "zh", "fr"])
        assert cached.calls == 3, "the second time every target is a cache hit"


class PairTranslator(DictTranslator):
    """Translates only ``pairs``; says so through ``supports``."""

    def __init__(self, table, pairs: set[tuple[str, str]], id: str) -> None:
        super().__init__(table, id=id)
        self.pairs = pairs

    def supports(self, source: str, target: str) -> bool:
        return (source, target) in self.pairs


class TestRoutingTranslator:
    def engines(self):
        rule_based = PairTranslator({("hola", "es", "en"): "hello"}, {("es", "en"), ("fr", "en")}, "rb")
        llm = DictTranslator(
            {("hola", "es", "en"): "hi", ("你好", "zh", "en"): "hello", ("hi", "en", "de"): "hallo"}
        )
        return rule_based, llm

    def test_each_pair_goes_to_its_engine(self) -> None:
        rule_based, llm = self.engines()
        router = RoutingTranslator(
            {"apertium": rule_based, "llm": llm}, default=["llm"], routes={"es-en": ["apertium", "llm"]}
        )
        assert router.translate("hola", "es", "en") == "hello"
        assert router.translate("你好", "zh", "en") == "hello"
        assert (router.engine_for("es", "en"), router.engine_for("zh", "en")) == ("apertium", "llm")
        assert rule_based.calls == [("hola", "es", "en")] and llm.calls == [("你好", "zh", "en")]

    def test_a_pair_the_engine_lacks_goes_to_the_next(self) -> None:
        rule_based, llm = self.engines()
        router = RoutingTranslator({"apertium": rule_based, "llm": llm}, default=["apertium", "llm"])
        assert router.engine_for("fr", "en") == "apertium"
        assert router.engine_for("en", "de") == "llm"
        assert router.translate("hi", "en", "de") == "hallo"
        assert router.supports("en", "de"), "the last engine takes whatever comes"

    def test_engines_are_built_when_first_needed_and_once(self) -> None:
        built: list[str] = []
        rule_based, llm = self.engines()

        def make_llm():
            built.append("llm")
            time.sleep(0.05)
            return llm

        router = RoutingTranslator(
            {"apertium": rule_based, "llm": make_llm}, default=["llm"], routes={"es-en": ["apertium"]}
        )
        assert router.translate("hola", "es", "en") == "hello"
        assert built == [], "a setup that never needs the generator never loads it"
        threads = [threading.Thread(target=router.translate, args=("你好", "zh", "en")) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert built == ["llm"]

    def test_translate_query_through_a_router(self) -> None:
        rule_based, llm = self.engines()
        router = RoutingTranslator(
            {"apertium": rule_based, "llm": llm}, default=["llm"], routes={"es-en": ["apertium", "llm"]}
        )
        assert translate_query(router, "hola", "es", ["en", "de"]) == {"en": "hello"}

    def test_an_unknown_engine_is_an_error_up_front(self) -> None:
        _, llm = self.engines()
        with pytest.raises(ValueError, match=r"'es-en' names \['model'\]"):
            RoutingTranslator({"llm": llm}, default=["llm"], routes={"es-en": ["model", "llm"]})
        with pytest.raises(ValueError, match="no engine"):
            RoutingTranslator({"llm": llm}, default=[])

    def test_cached_engines_keep_their_supports(self) -> None:
        rule_based, _ = self.engines()
        cached = CachedTranslator(rule_based, TranslationCache(":memory:"))
        assert cached.supports("es", "en") and not cached.supports("zh", "en")
        assert CachedTranslator(DictTranslator({}), TranslationCache(":memory:")).supports("zh", "en")
