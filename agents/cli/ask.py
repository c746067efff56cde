"""``babelrag ask``: cross-lingual answers with citations, from the local generator."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from babelrag.agents.cli.common import (
    JsonOption,
    KbOption,
    parse_language,
    parse_where,
    runtime_for,
    settings_from,
)

Strategy = Annotated[
    str | None, typer.Option(help="Decoding: greedy, beam or sample (config generation.strategy).")
]


def decoding_overrides(
    strategy: str | None,
    num_beams: int | None,
    temperature: float | None,
    top_k: int | None,
    top_p: float | None,
    seed: int | None,
    max_new_tokens: int | None,
    repetition_penalty: float | None,
    stop: list[str] | None,
) -> dict[str, Any]:
    return {
        "strategy": strategy,
        "num_beams": num_beams,
        "temperature": temperature,
        "top_k": top_k,
        "top_p": top_p,
        "seed": seed,
        "max_new_tokens": max_new_tokens,
        "repetition_penalty": repetition_penalty,
        "stop": stop or None,
    }


def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="Your question, in any language.")],
    lang: Annotated[
        str | None, typer.Option("--lang", help="Answer in this language (default: the question's).")
    ] = None,
    k: Annotated[
        int | None, typer.Option("-k", "--k", help="Passages for the generator (config retrieval.k).")
    ] = None,
    translate: Annotated[
        bool | None, typer.Option("--translate/--no-translate", help="Also search with translated queries.")
    ] = None,
    lexical: Annotated[
        bool | None, typer.Option("--lexical/--no-lexical", help="Fuse in BM25 search.")
    ] = None,
    source_lang: Annotated[
        str | None, typer.Option("--source-lang", help="Only use passages in this language.")
    ] = None,
    where: Annotated[list[str] | None, typer.Option(help="Metadata filter KEY=VALUE (repeatable).")] = None,
    stream: Annotated[bool, typer.Option("--stream", help="Print the answer as it is generated.")] = False,
    strategy: Strategy = None,
    num_beams: Annotated[int | None, typer.Option(help="Beams for --strategy beam.")] = None,
    temperature: Annotated[float | None, typer.Option(help="For --strategy sample.")] = None,
    top_k: Annotated[int | None, typer.Option(help="For --strategy sample.")] = None,
    top_p: Annotated[float | None, typer.Option(help="For --strategy sample.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for sampling.")] = None,
    max_new_tokens: Annotated[int | None, typer.Option(help="Longest answer in tokens.")] = None,
    repetition_penalty: Annotated[float | None, typer.Option(help="Penalty for repeating tokens.")] = None,
    stop: Annotated[list[str] | None, typer.Option(help="Stop string (repeatable).")] = None,
    kb: KbOption = None,
    no_service: Annotated[
        bool,
        typer.Option(
            "--no-service",
            help="Answer in this process even when a local `babelrag serve` for this data directory "
            "runs (config service.use_from_cli).",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Answer a question from the knowledge base, in the question's language, with cited sources.

    A running local `babelrag serve` over the same data directory, embedder and generator answers
    instead, without loading a model here."""
    from babelrag.agents.cli.render import print_answer
    from babelrag.agents.console import out
    from babelrag.agents.limits import check_query
    from babelrag.chains.answer import AnswerResult

    answer_lang = parse_language(lang)
    passage_lang = parse_language(source_lang)
    filters = parse_where(where)
    overrides = decoding_overrides(
        strategy, num_beams, temperature, top_k, top_p, seed, max_new_tokens, repetition_penalty, stop
    )
    settings = settings_from(ctx, kb=kb, retrieval={"k": k}, generation=overrides)
    question = check_query(question, settings, what="question")  # before any model or service
    result = None
    if settings.service.use_from_cli and not no_service:
        request = {
            "question": question,
            "kb": settings.kb,
            "lang": answer_lang,
            "k": settings.retrieval.k,
            "translate": translate,
            "lexical": lexical,
            "source_lang": passage_lang,
            "where": filters,
            "decoding": {key: value for key, value in overrides.items() if value is not None} or None,
        }
        result = _ask_service(settings, request, stream=stream and not json_output)
    if result is None:
        with runtime_for(ctx, kb=kb, retrieval={"k": k}, generation=overrides) as rt:
            retriever = rt.cross_lingual_retriever(
                translate=translate, lexical=lexical, lang=passage_lang, where=filters
            )
            chain = rt.answer_chain(retriever)
            _ = rt.llm  # load before streaming so progress bars do not interleave with the answer
            request = {"question": question, "lang": answer_lang}
            if not stream or json_output:
                result = chain.invoke(request)
            else:
                for item in chain.stream(request):
                    if isinstance(item, AnswerResult):
                        result = item
                    else:
                        out.print(item, end="", markup=False, highlight=False, style="dim")
                out.print()
                assert result is not None
    if json_output:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    print_answer(result, streamed=stream)


def _ask_service(settings: Any, request: dict[str, Any], *, stream: bool) -> Any:
    """The answer of a running local service as an ``AnswerResult``, or None to answer in-process."""
    from babelrag.agents.console import out
    from babelrag.agents.service.client import StreamBroken, call_service, stream_service
    from babelrag.chains.answer import AnswerResult
    from babelrag.stores.errors import GenerationError

    if stream:
        try:
            data = stream_service(
                settings,
                "/v1/ask",
                request,
                lambda text: out.print(text, end="", markup=False, highlight=False, style="dim"),
            )
        except StreamBroken as exc:
            out.print()
            raise GenerationError(f"the running service failed mid-answer: {exc}") from None
        if data is not None:
            out.print()
    else:
        data = call_service(settings, "/v1/ask", request, generator=True)
    if data is None:
        return None
    timings = {key: value for key, value in data["timings"].items() if key != "queue_s"}
    return AnswerResult(
        question=data["question"],
        answer=data["answer"],
        lang=data["lang"],
        no_answer=data["no_answer"],
        sources=data["sources"],
        passages=[],
        translations=data["translations"],
        timings=timings,
        generation=data["generation"],
        notes=data["notes"],
    )
