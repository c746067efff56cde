"""``babelrag ask``: cross-lingual answers with citations, from the local generator."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from babelrag.agents.cli.common import JsonOption, KbOption, parse_language, parse_where, runtime_for

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
    json_output: JsonOption = False,
) -> None:
    """Answer a question from the knowledge base, in the question's language, with cited sources."""
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
    with runtime_for(ctx, kb=kb, retrieval={"k": k}, generation=overrides) as rt:
        question = check_query(question, rt.settings, what="question")
        retriever = rt.cross_lingual_retriever(
            translate=translate, lexical=lexical, lang=passage_lang, where=filters
        )
        chain = rt.answer_chain(retriever)
        _ = rt.llm  # load before streaming so progress bars do not interleave with the answer
        request = {"question": question, "lang": answer_lang}
        if not stream or json_output:
            result = chain.invoke(request)
        else:
            result = None
            raw: list[str] = []
            for item in chain.stream(request):
                if isinstance(item, AnswerResult):
                    result = item
                else:
                    raw.append(item)
                    out.print(item, end="", markup=False, highlight=False, style="dim")
            out.print()
            assert result is not None
    if json_output:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    print_answer(result, streamed=stream)
