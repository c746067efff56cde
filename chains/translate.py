"""Query translation: the user's query in the knowledge base's other languages.

By default the local generator translates through a prompt file; a dedicated Hugging Face
translation model (MarianMT, NLLB, M2M100) or Apertium (``chains/apertium.py``) can be configured
instead, per language pair (:class:`RoutingTranslator`). Translations are cached, the targets of
one query are translated concurrently, and nothing is translated into the query's own language.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnableLambda

from babelrag.stores.langdetect import UNDETERMINED, language_name

TRANSLATE_VARIABLES = ("query", "source_language", "target_language")

_QUOTES = "\"'“”„‟«»‹›「」『』`*"
_LABEL = re.compile(
    r"^(?:translation|translated query|translated|query|output|answer|result|english|german|chinese|french|"
    r"spanish|japanese|korean|russian|deutsch|englisch|übersetzung|traduction|traducción|"
    r"翻译|译文|英文|中文|德文|德语|英语|查询)\s*[:：]\s*",
    re.IGNORECASE,
)


@runtime_checkable
class Translator(Protocol):
    """Translates short texts; ``id`` names the backend for the cache."""

    id: str

    def translate(self, text: str, source: str, target: str) -> str: ...


def clean_translation(text: str) -> str:
    """One line of translation: no chatter, labels, quotes or notes."""
    text = re.sub(r"<think>.*?</think>", "", text, flags=re.DOTALL)
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return ""
    line = _LABEL.sub("", lines[0]).strip()
    if not line and len(lines) > 1:  # "Translation:" on a line of its own
        line = lines[1]
    line = re.sub(r"\s*[(（](?:note|translation|注|翻译)[^)）]*[)）]\s*$", "", line, flags=re.IGNORECASE)
    while len(line) >= 2 and line[0] in _QUOTES and line[-1] in _QUOTES:
        line = line[1:-1].strip()
    return " ".join(line.split())


def build_translation_chain(*, llm: BaseChatModel, prompt: ChatPromptTemplate) -> Runnable[dict, str]:
    """{query, source_language, target_language} -> one clean line."""
    return (prompt | llm | StrOutputParser() | RunnableLambda(clean_translation)).with_config(
        run_name="translate_query"
    )


class LLMTranslator:
    """Translation by the local generator through the ``translate_query`` prompt."""

    def __init__(self, *, llm: BaseChatModel, prompt: ChatPromptTemplate, model_id: str) -> None:
        self.chain = build_translation_chain(llm=llm, prompt=prompt)
        # the prompt is part of the backend: editing it must not serve stale cached translations
        digest = hashlib.sha256(repr(prompt.messages).encode()).hexdigest()[:12]
        self.id = f"llm:{model_id}:{digest}"

    def translate(self, text: str, source: str, target: str) -> str:
        return self.chain.invoke(
            {
                "query": text,
                "source_language": language_name(source),
                "target_language": language_name(target),
            }
        )


#: NLLB language codes for the languages people most often mix.
NLLB_CODES = {
    "en": "eng_Latn", "zh": "zho_Hans", "de": "deu_Latn", "fr": "fra_Latn", "es": "spa_Latn",
    "it": "ita_Latn", "pt": "por_Latn", "nl": "nld_Latn", "ru": "rus_Cyrl", "ja": "jpn_Jpan",
    "ko": "kor_Hang", "ar": "arb_Arab", "pl": "pol_Latn", "tr": "tur_Latn", "uk": "ukr_Cyrl",
    "sv": "swe_Latn", "cs": "ces_Latn", "vi": "vie_Latn", "hi": "hin_Deva", "id": "ind_Latn",
}  # fmt: skip


class Seq2SeqTranslator:
    """Translation by a dedicated encoder-decoder model (MarianMT, NLLB, M2M100).

    transformers 5 removed ``pipeline("translation")``; this does what it did: tokenize, set
    the source language, force the target language as the first generated token, decode.
    ``languages`` says how the model names languages: ``"nllb"`` (eng_Latn…), ``"iso"``
    (M2M100) or ``"fixed"`` for one-pair models such as ``opus-mt-zh-en``, used only for ``pair``.
    """

    def __init__(
        self,
        *,
        model: Any,
        tokenizer: Any,
        model_id: str,
        languages: str = "fixed",
        pair: tuple[str, str] | None = None,
        max_new_tokens: int = 128,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.id = f"hf:{model_id}"
        self.languages = languages
        self.pair = pair
        self.max_new_tokens = max_new_tokens

    def supports(self, source: str, target: str) -> bool:
        if self.languages == "fixed":
            return self.pair is None or self.pair == (source, target)
        if self.languages == "nllb":
            return source in NLLB_CODES and target in NLLB_CODES
        return True

    def translate(self, text: str, source: str, target: str) -> str:
        if not self.supports(source, target):
            return ""
        import torch

        limit = int(getattr(self.model.config, "max_position_embeddings", 0) or 1_000_000)
        kwargs: dict[str, Any] = {"max_new_tokens": min(self.max_new_tokens, limit - 2)}
        if self.languages == "nllb":
            self.tokenizer.src_lang = NLLB_CODES[source]
            kwargs["forced_bos_token_id"] = self.tokenizer.convert_tokens_to_ids(NLLB_CODES[target])
        elif self.languages == "iso":
            self.tokenizer.src_lang = source
            kwargs["forced_bos_token_id"] = self.tokenizer.get_lang_id(target)
        inputs = self.tokenizer(text, return_tensors="pt", truncation=True, max_length=limit)
        with torch.inference_mode():
            output = self.model.generate(**inputs, **kwargs)
        return clean_translation(self.tokenizer.decode(output[0], skip_special_tokens=True))


class TranslationCache:
    """Translations by (backend, source, target, text), in SQLite; safe across threads and runs."""

    def __init__(self, path: Path | str = ":memory:") -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS translations (backend TEXT, source TEXT, target TEXT, "
                "text TEXT, translation TEXT, PRIMARY KEY (backend, source, target, text))"
            )

    def get(self, backend: str, source: str, target: str, text: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT translation FROM translations WHERE backend=? AND source=? AND target=? AND text=?",
                (backend, source, target, text),
            ).fetchone()
        return row[0] if row else None

    def put(self, backend: str, source: str, target: str, text: str, translation: str) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO translations VALUES (?, ?, ?, ?, ?)",
                (backend, source, target, text, translation),
            )


class CachedTranslator:
    """Wraps a translator with a :class:`TranslationCache`; counts real calls (for tests and timings)."""

    def __init__(self, inner: Translator, cache: TranslationCache) -> None:
        self.inner = inner
        self.cache = cache
        self.id = inner.id
        self.calls = 0
        self._count = threading.Lock()  # targets are translated from several threads

    def supports(self, source: str, target: str) -> bool:
        return supports_pair(self.inner, source, target)

    def translate(self, text: str, source: str, target: str) -> str:
        cached = self.cache.get(self.id, source, target, text)
        if cached is not None:
            return cached
        with self._count:
            self.calls += 1
        result = self.inner.translate(text, source, target)
        if result:
            self.cache.put(self.id, source, target, text, result)
        return result


def supports_pair(translator: Translator, source: str, target: str) -> bool:
    """Whether ``translator`` can translate the pair; one without ``supports`` can translate any."""
    supports = getattr(translator, "supports", None)
    return True if supports is None else bool(supports(source, target))


class RoutingTranslator:
    """Sends each language pair to its engine: Apertium for Spanish, the generator for Chinese…

    ``routes`` lists, per ``"source-target"`` pair, the engines to try in order and ``default``
    those for every other pair: the first that supports the pair translates it, the last one
    whatever it says. ``engines`` are translators, or functions building one that are called the
    first time a pair needs that engine, so a setup sending every pair to Apertium never loads
    the generator.
    """

    def __init__(
        self,
        engines: Mapping[str, Translator | Callable[[], Translator]],
        *,
        default: Sequence[str],
        routes: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        routes = {pair: list(names) for pair, names in (routes or {}).items()}
        for where, names in [("default", default), *routes.items()]:
            unknown = [n for n in names if n not in engines]
            if not names or unknown:
                raise ValueError(
                    f"route {where!r} names {unknown or 'no engine'}; engines are {sorted(engines)}"
                )
        self._engines = dict(engines)
        self.default = list(default)
        self.routes = routes
        self.id = "route:" + ";".join(
            f"{pair}={'>'.join(names)}" for pair, names in [("*", self.default), *sorted(routes.items())]
        )
        self._chosen: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def engine_for(self, source: str, target: str) -> str:
        """The name of the engine that translates ``source`` into ``target``."""
        key = (source, target)
        if key not in self._chosen:
            names = self.routes.get(f"{source}-{target}", self.default)
            chosen = next((n for n in names[:-1] if supports_pair(self.engine(n), source, target)), names[-1])
            self._chosen[key] = chosen
        return self._chosen[key]

    def engine(self, name: str) -> Translator:
        """The engine called ``name``, built on first use (once, even when threads ask together)."""
        with self._lock:
            engine = self._engines[name]
            if not isinstance(engine, Translator):
                engine = self._engines[name] = engine()
            return engine

    def supports(self, source: str, target: str) -> bool:
        return supports_pair(self.engine(self.engine_for(source, target)), source, target)

    def translate(self, text: str, source: str, target: str) -> str:
        return self.engine(self.engine_for(source, target)).translate(text, source, target)


def translation_targets(
    query_lang: str,
    kb_languages: Mapping[str, int],
    *,
    configured: Iterable[str] = (),
    max_targets: int = 3,
    min_share: float = 0.05,
) -> list[str]:
    """Languages to translate into: configured ones, else the knowledge base's main languages.

    The query's own language is never a target; a language holding less than ``min_share`` of
    the chunks is not worth a translation.
    """
    configured = [c for c in configured if c]
    if configured:
        candidates = configured
    else:
        total = sum(kb_languages.values()) or 1
        ranked = sorted(kb_languages.items(), key=lambda kv: (-kv[1], kv[0]))
        candidates = [lang for lang, n in ranked if n / total >= min_share]
    targets = [c for c in candidates if c not in (query_lang, UNDETERMINED)]
    return list(dict.fromkeys(targets))[:max_targets]


def translate_query(
    translator: Translator,
    query: str,
    source: str,
    targets: Iterable[str],
    *,
    detect_language: Callable[[str], str] | None = None,
    max_workers: int = 4,
) -> dict[str, str]:
    """The query in each target language.

    The targets are translated concurrently (a generator serialises on its own lock; Apertium
    processes and cache hits run side by side), then judged in the order given, so the result
    does not depend on which finished first. Failed, empty, unchanged and duplicate translations
    are dropped, and with ``detect_language`` so is a "translation" that came back in another
    language than asked (small models sometimes answer in English instead of translating): a
    wrong query in the fusion only adds noise. A result in *another of the targets* (asked for
    German, got English) is a translation all the same: it stands in for that target until that
    target's own translation comes back.
    """
    targets = [t for t in dict.fromkeys(targets) if t != source]
    out: dict[str, str] = {}
    stand_ins: set[str] = set()
    seen = {query.strip().casefold()}
    translations = _translate_all(translator, query, source, targets, max_workers)
    for target, text in zip(targets, translations, strict=True):
        key = text.strip().casefold()
        if not key or key in seen:
            continue
        lang = target if detect_language is None else detect_language(text)
        if lang in (target, UNDETERMINED):
            if target in stand_ins:  # its own translation replaces the stand-in
                seen.discard(out[target].strip().casefold())
                stand_ins.discard(target)
            out[target] = text
        elif lang in targets and lang not in out:
            out[lang] = text
            stand_ins.add(lang)
        else:
            continue
        seen.add(key)
    return {t: out[t] for t in targets if t in out}


def _translate_all(
    translator: Translator, query: str, source: str, targets: list[str], max_workers: int
) -> list[str]:
    """The query translated into each target, in the targets' order; an engine's error is raised."""
    if len(targets) <= 1 or max_workers <= 1:
        return [translator.translate(query, source, target) for target in targets]
    with ThreadPoolExecutor(min(max_workers, len(targets)), thread_name_prefix="translate") as pool:
        futures = [pool.submit(translator.translate, query, source, target) for target in targets]
        return [future.result() for future in futures]
