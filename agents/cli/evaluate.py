"""``babelrag eval``: retrieval and answer quality on data nobody here wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from babelrag.agents.cli.common import JsonOption, KbOption, global_options, runtime_for, settings_from

eval_app = typer.Typer(
    help="Measure retrieval and answer quality (BEIR data sets, Debian Reference).", no_args_is_help=True
)

LangOption = Annotated[
    str, typer.Option("--lang", help="Debian Reference language: zh-cn, de, fr, es, ja, …")
]


@eval_app.command("build-debref")
def build_debref_cmd(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Argument(help="Folder for the BEIR data set.")],
    lang: LangOption = "zh-cn",
    variant: Annotated[
        str, typer.Option(help="Queries: section titles, or the openings of sections.")
    ] = "titles",
) -> None:
    """Build a cross-lingual BEIR set from Debian Reference (English corpus, queries in --lang)."""
    from babelrag.agents.console import RichProgress, out
    from babelrag.agents.evaluation.debref import build_debref

    settings = settings_from(ctx)
    with RichProgress(enabled=not global_options(ctx).quiet) as progress:
        report = build_debref(lang, out_dir, cache_dir=settings.cache_dir, variant=variant, progress=progress)
    out.print(
        f"{out_dir}: {report.corpus_docs} English sections, {report.queries} {variant} queries "
        f"in {lang} ({report.seconds:.1f} s)",
        highlight=False,
    )


@eval_app.command("build-debref-questions")
def build_questions_cmd(
    ctx: typer.Context,
    out_file: Annotated[Path, typer.Argument(help="JSONL question set to write.")],
    lang: LangOption = "zh-cn",
    limit: Annotated[
        int | None, typer.Option(help="At most this many questions, spread over the manual.")
    ] = None,
) -> None:
    """Write a question set (JSONL) from Debian Reference titles, with the expected English sections."""
    from babelrag.agents.console import RichProgress, out
    from babelrag.agents.evaluation.debref import build_debref_questions

    settings = settings_from(ctx)
    with RichProgress(enabled=not global_options(ctx).quiet) as progress:
        n = build_debref_questions(
            lang, out_file, cache_dir=settings.cache_dir, limit=limit, progress=progress
        )
    out.print(f"wrote {n} questions to {out_file}", highlight=False)


@eval_app.command("retrieval")
def retrieval_cmd(
    ctx: typer.Context,
    dataset_dir: Annotated[
        Path, typer.Argument(help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/test.tsv.")
    ],
    modes: Annotated[
        str,
        typer.Option(
            help="Comma-separated: dense, translated, fused, fused-rank (versions fused by rank), "
            "fused+lexical, dense+lexical, fused@W "
            "(translations weigh W), dense-chunks / fused-chunks (each chunk alone, its section not "
            "counted), whole-doc (the embedder on whole documents: the reference line)."
        ),
    ] = "dense,translated,fused,fused+lexical",
    k: Annotated[int, typer.Option("-k", help="Documents ranked per query (metrics @1/5/10 need 10).")] = 10,
    max_queries: Annotated[
        int | None, typer.Option(help="Evaluate a seeded sample of this many queries.")
    ] = None,
    embedder: Annotated[str | None, typer.Option(help="Embedding model for this evaluation.")] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Also write the Markdown table here.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Recall@1/5/10, MRR@10 and nDCG@10 of each retrieval mode, overall and per query language."""
    from babelrag.agents.console import out
    from babelrag.agents.evaluation.beir import load_beir
    from babelrag.agents.evaluation.harness import prepare_corpus_kb, retrieval_modes
    from babelrag.agents.evaluation.retrieval_eval import run_retrieval_eval

    dataset = load_beir(dataset_dir)
    names = tuple(m.strip() for m in modes.split(",") if m.strip())
    with runtime_for(ctx, models={"embedder": embedder}) as base:
        rt = prepare_corpus_kb(base, dataset)
        report = run_retrieval_eval(
            dataset,
            modes=retrieval_modes(rt, dataset, k=k, modes=names),
            max_queries=max_queries,
            progress=rt.progress,
        )
    table = report.to_markdown()
    if out_file:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(table + "\n", encoding="utf-8")
    if json_output:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        out.print(table, markup=False, highlight=False)


@eval_app.command("answers")
def answers_cmd(
    ctx: typer.Context,
    questions_file: Annotated[Path, typer.Argument(help="JSONL: question, optional lang, expected_sources.")],
    corpus: Annotated[
        Path | None,
        typer.Option(help="Answer over this BEIR corpus (ingested once, cached) instead of --kb."),
    ] = None,
    max_questions: Annotated[int | None, typer.Option(help="Only the first N questions.")] = None,
    kb: KbOption = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Also write the Markdown table here.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Answers in the question's language, valid citations, expected sources, no-answer rate, latency."""
    from babelrag.agents.console import out
    from babelrag.agents.evaluation.answer_eval import evaluate_answers, load_questions
    from babelrag.agents.evaluation.beir import load_beir
    from babelrag.agents.evaluation.harness import prepare_corpus_kb
    from babelrag.stores.langdetect import detect_language

    questions = load_questions(questions_file)[:max_questions]
    with runtime_for(ctx, kb=kb) as rt:
        if corpus is not None:
            rt = prepare_corpus_kb(rt, load_beir(corpus))
        chain = rt.answer_chain()
        report = evaluate_answers(
            questions,
            lambda q, lang: chain.invoke({"question": q, "lang": lang}),
            detect_language,
            progress=rt.progress,
        )
    if out_file:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(report.to_markdown() + "\n", encoding="utf-8")
    if json_output:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        out.print(report.to_markdown(), markup=False, highlight=False)
        out.print(f"mean timings: {report.mean_timings}", highlight=False)
