"""The cross-lingual answer chain: retrieve, pack, generate, cite, in the asker's language.

Steps (each a named runnable, so callbacks and tracing see every one):
1. detect the question's language (or take the caller's),
2. retrieve with query translation and rank fusion,
3. pack numbered passages into the generator's context budget (in tokens),
4. generate with the ``answer`` prompt,
5. check citations against the passages, spot "no answer", and make sure the answer is in the
   question's language (one rewrite pass if the model slipped into another language).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda

from babelrag.chains.citations import drop_cut_off, is_no_answer, strip_citations
from babelrag.chains.generator import Decoding, LocalChatModel
from babelrag.chains.grounding import Grounder
from babelrag.chains.prompting import localized, render
from babelrag.chains.retrieval import CrossLingualRetriever, RetrievalResult
from babelrag.stores.chunking import widen
from babelrag.stores.knowledge_store import SearchHit
from babelrag.stores.langdetect import UNDETERMINED, language_name

ANSWER_VARIABLES = ("passages", "question", "language")
REWRITE_VARIABLES = ("text", "language")


@dataclass
class Prepared:
    """Everything decided before generation."""

    question: str
    lang: str
    retrieval: RetrievalResult
    passages: list[SearchHit]
    messages: list[BaseMessage]
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class AnswerResult:
    question: str
    answer: str
    lang: str
    no_answer: bool
    sources: list[dict[str, Any]]  # cited passages, in citation order, each a search hit + "ref"
    passages: list[SearchHit]  # all passages given to the model, numbered from 1
    translations: dict[str, str]
    timings: dict[str, float]
    generation: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "lang": self.lang,
            "no_answer": self.no_answer,
            "sources": self.sources,
            "translations": self.translations,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "generation": self.generation,
            "notes": self.notes,
        }


def pack_passages(
    hits: Sequence[SearchHit],
    *,
    count_tokens: Callable[[str], int],
    budget: int,
    min_tail: int = 48,
    number: bool = True,
) -> tuple[str, list[SearchHit]]:
    """Numbered passages that fit in ``budget`` tokens; the last one may be cut to fit."""
    blocks: list[str] = []
    used: list[SearchHit] = []
    remaining = budget
    for hit in hits:
        header = f"[{len(used) + 1}] {hit.title}\n" if number else f"{hit.title}\n"
        block = header + hit.text.strip()
        cost = count_tokens(block) + 2  # the blank line between passages
        if cost <= remaining:
            blocks.append(block)
            used.append(hit)
            remaining -= cost
            continue
        if remaining - count_tokens(header) >= min_tail:
            cut = _cut_to_tokens(hit.text.strip(), remaining - count_tokens(header) - 2, count_tokens)
            if cut:
                blocks.append(header + cut + " …")
                used.append(hit)
        break
    return "\n\n".join(blocks), used


def _cut_to_tokens(text: str, budget: int, count_tokens: Callable[[str], int]) -> str:
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count_tokens(text[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip()


class AnswerChain(Runnable[dict[str, Any], AnswerResult]):
    """``{"question", "lang"?, "decoding"?}`` -> :class:`AnswerResult`, through ``invoke`` or ``stream``.

    ``stream`` yields the answer's text pieces as they are generated, then the checked
    :class:`AnswerResult`. Each step runs as a named runnable (``retrieve_and_pack``, holding
    ``cross_lingual_retrieve`` and its ``translate``; the chat model; ``ground_and_check``), so
    LangChain callbacks and tracing see all of them. Dependencies are passed in ready-made by the
    composition root.
    """

    name = "cross_lingual_answer"

    def __init__(
        self,
        *,
        retriever: CrossLingualRetriever,
        llm: LocalChatModel,
        grounder: Grounder,
        answer_prompt: ChatPromptTemplate,
        rewrite_prompt: ChatPromptTemplate,
        messages: Mapping[str, Mapping[str, str]],
        detect_language: Callable[[str], str],
        context_tokens: int = 2048,
        max_new_tokens: int = 320,
        rewrite_wrong_language: bool = True,
        number_passages: bool = False,
        neighbours: Callable[[SearchHit], tuple[str | None, str | None]] | None = None,
        passage_tokens: int = 0,
        originals: Callable[[Sequence[str]], list[SearchHit]] | None = None,
    ) -> None:
        self.retriever = retriever
        self.llm = llm
        self.grounder = grounder
        self.answer_prompt = answer_prompt
        self.rewrite_prompt = rewrite_prompt
        self.messages = messages
        self.detect_language = detect_language
        self.context_tokens = context_tokens
        self.max_new_tokens = max_new_tokens
        self.rewrite_wrong_language = rewrite_wrong_language
        self.number_passages = number_passages
        self.neighbours = neighbours  # the chunks around a hit, for widening it (small-to-big)
        self.passage_tokens = passage_tokens  # widen each passage up to this many tokens; 0: never
        self.originals = originals  # stored chunks by id: the originals of translations found

    # -- Runnable ---------------------------------------------------------------------------
    def invoke(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> AnswerResult:
        return self._call_with_config(self._answer, input, config)

    def stream(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[Any]:
        """Text pieces (``str``) while generating, then the :class:`AnswerResult`."""
        yield from self._transform_stream_with_config(iter([input]), self._answer_stream, config)

    def _answer(self, request: dict[str, Any]) -> AnswerResult:
        prepared = self._prepare_step().invoke(request)
        if not prepared.passages:
            return self._finish_step().invoke((prepared, "", {}))
        reply = self.llm.invoke(prepared.messages, decoding=self._decoding(request))
        return self._finish_step().invoke((prepared, str(reply.content), reply.response_metadata))

    def _answer_stream(self, requests: Iterator[dict[str, Any]]) -> Iterator[Any]:
        for request in requests:
            prepared = self._prepare_step().invoke(request)
            if not prepared.passages:
                yield self._finish_step().invoke((prepared, "", {}))
                continue
            pieces: list[str] = []
            meta: dict[str, Any] = {}
            for chunk in self.llm.stream(prepared.messages, decoding=self._decoding(request)):
                if chunk.content:
                    pieces.append(str(chunk.content))
                    yield str(chunk.content)
                if chunk.response_metadata:
                    meta = dict(chunk.response_metadata)
            yield self._finish_step().invoke((prepared, "".join(pieces), meta))

    def _prepare_step(self) -> Runnable[dict[str, Any], Prepared]:
        return RunnableLambda(
            lambda r: self.prepare(_question(r), lang=r.get("lang") if isinstance(r, dict) else None),
            name="retrieve_and_pack",
        )

    def _finish_step(self) -> Runnable[tuple[Prepared, str, Mapping[str, Any]], AnswerResult]:
        return RunnableLambda(lambda args: self.finish(*args), name="ground_and_check")

    # -- steps ------------------------------------------------------------------------------
    def prepare(self, question: str, *, lang: str | None = None) -> Prepared:
        question = question.strip()
        target = lang or self.detect_language(question)
        retrieval = self.retriever.retrieve(question, query_lang=target if target != UNDETERMINED else None)
        if target == UNDETERMINED:
            target = "en"
        empty = render(self.answer_prompt, passages="", question=question, language=language_name(target))
        overhead = self.llm.prompt_tokens(empty)
        budget = self.context_tokens - overhead - self.max_new_tokens
        text, used = pack_passages(
            self._widened(self._cite_originals(retrieval.hits)),
            count_tokens=self.llm.count_tokens,
            budget=max(budget, 0),
            number=self.number_passages,
        )
        messages = render(
            self.answer_prompt, passages=text, question=question, language=language_name(target)
        )
        return Prepared(question, target, retrieval, used, messages, dict(retrieval.timings))

    def _cite_originals(self, hits: Sequence[SearchHit]) -> list[SearchHit]:
        """Each machine translation the search found (translation at ingest) replaced by the passage
        it translates, so the model reads, and the answer cites, the original; one that has lost its
        original stays, marked by its ``translated_from``."""
        wanted = [str(h.metadata["original"]) for h in hits if h.metadata.get("original")]
        if not wanted or self.originals is None:
            return list(hits)
        found = {h.id: h for h in self.originals(wanted)}
        out: list[SearchHit] = []
        seen: set[str] = set()
        for hit in hits:
            original = found.get(str(hit.metadata.get("original", "")))
            if original is not None:
                hit = replace(original, score=hit.score, metadata={**original.metadata, "found_as": hit.lang})
            if hit.id not in seen:
                seen.add(hit.id)
                out.append(hit)
        return out

    def _widened(self, hits: Sequence[SearchHit]) -> list[SearchHit]:
        """Each hit with sentences of its neighbouring chunks, up to ``passage_tokens`` tokens."""
        if self.neighbours is None or self.passage_tokens <= 0:
            return list(hits)
        out = []
        for hit in hits:
            before, after = self.neighbours(hit)
            text = widen(hit.text, before, after, self.llm.count_tokens, self.passage_tokens)
            if text != hit.text:
                hit = replace(hit, text=text, metadata={**hit.metadata, "widened": True})
            out.append(hit)
        return out

    def finish(self, prepared: Prepared, raw: str, generation: Mapping[str, Any]) -> AnswerResult:
        timings = dict(prepared.timings)
        generation = {**generation, "raw_answer": raw}
        for key in ("prefill_s", "decode_s", "generate_s"):
            if generation.get(key) is not None:
                timings[key] = float(generation[key])
        notes: list[str] = []
        if not prepared.passages or is_no_answer(raw):
            return self._no_answer(prepared, timings, generation, notes)
        hit_limit = int(generation.get("completion_tokens") or 0) >= self.max_new_tokens
        answer, rewritten = self._ensure_language(
            drop_cut_off(raw.strip(), hit_limit=hit_limit), prepared.lang, timings
        )
        if rewritten:
            notes.append(rewritten)
        started = time.perf_counter()
        grounded = self.grounder.ground(answer, prepared.passages)
        timings["ground_s"] = time.perf_counter() - started
        if grounded.dropped:
            notes.append(
                f"dropped {len(grounded.dropped)} sentence(s) no passage supports: {grounded.dropped}"
            )
        if not grounded.text:
            notes.append("nothing in the generated answer could be traced to a passage")
            return self._no_answer(prepared, timings, generation, notes)
        sources = [{"ref": n, **prepared.passages[n - 1].to_dict()} for n in grounded.cited]
        return AnswerResult(
            prepared.question,
            grounded.text,
            prepared.lang,
            False,
            sources,
            prepared.passages,
            prepared.retrieval.translations,
            timings,
            dict(generation),
            notes,
        )

    def _no_answer(self, prepared: Prepared, timings: dict, generation: Mapping, notes: list) -> AnswerResult:
        text = localized(
            self.messages, "no_answer", prepared.lang, "The knowledge base does not contain an answer."
        )
        if not prepared.passages:
            notes.append("no passages were found")
        return AnswerResult(
            prepared.question,
            text,
            prepared.lang,
            True,
            [],
            prepared.passages,
            prepared.retrieval.translations,
            timings,
            dict(generation),
            notes,
        )

    def _ensure_language(self, answer: str, target: str, timings: dict[str, float]) -> tuple[str, str | None]:
        plain = strip_citations(answer)
        found = self.detect_language(plain)
        if not self.rewrite_wrong_language or found in (target, UNDETERMINED) or len(plain.strip()) < 12:
            return answer, None
        started = time.perf_counter()
        messages = render(self.rewrite_prompt, text=answer, language=language_name(target))
        decoding = Decoding(max_new_tokens=self.max_new_tokens)
        rewritten = str(self.llm.invoke(messages, decoding=decoding).content).strip()
        timings["rewrite_s"] = time.perf_counter() - started
        if rewritten and self.detect_language(strip_citations(rewritten)) in (target, UNDETERMINED):
            return (
                rewritten,
                f"the model answered in {language_name(found)}; rewritten in {language_name(target)}",
            )
        return answer, f"the model answered in {language_name(found)}, not {language_name(target)}"

    def _decoding(self, request: dict[str, Any] | str) -> Decoding:
        """The request's own ``decoding``, else the model's with this chain's answer length."""
        explicit = request.get("decoding") if isinstance(request, dict) else None
        return explicit or self.llm.decoding.with_overrides(max_new_tokens=self.max_new_tokens)


def _question(request: dict[str, Any] | str) -> str:
    """The question of a request: ``{"question": ...}``, or the bare string LangChain users pass."""
    return request if isinstance(request, str) else str(request["question"])
