"""``babelrag train``: parallel data from gettext catalogs, and distillation into a fast retriever."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from babelrag.agents.cli.common import JsonOption, runtime_for

train_app = typer.Typer(
    help="Train the retriever: parallel data (fetch-parallel) and knowledge distillation (distill).",
    no_args_is_help=True,
)


@train_app.command("fetch-parallel")
def fetch_parallel(
    ctx: typer.Context,
    out_file: Annotated[Path, typer.Argument(help="The TSV to write: lang, english, translation, source.")],
    langs: Annotated[str, typer.Option(help="Comma-separated languages, e.g. ja,zh-tw,de.")],
    from_dirs: Annotated[
        list[Path] | None,
        typer.Option(
            "--from",
            help="Locale folders to read (<dir>/<locale>/LC_MESSAGES/*.mo; repeatable). Default: "
            "/usr/share/locale; add a `dpkg -x` of more packages' .debs for more pairs.",
        ),
    ] = None,
    max_pairs: Annotated[int | None, typer.Option(help="At most this many pairs per language.")] = None,
    json_output: JsonOption = False,
) -> None:
    """English–translation pairs from the gettext catalogs Debian packages ship.

    Debian Reference, the evaluation corpus, is never read."""
    from dataclasses import asdict

    from babelrag.agents.console import out
    from babelrag.agents.training.parallel import harvest, write_tsv
    from babelrag.stores.errors import ConfigError

    roots = from_dirs or [Path("/usr/share/locale")]
    missing = [str(r) for r in roots if not r.is_dir()]
    if missing:
        raise ConfigError(f"no such folder: {', '.join(missing)}", hint="--from takes a locale folder")
    wanted = [lang.strip() for lang in langs.split(",") if lang.strip()]
    with runtime_for(ctx) as rt:
        rows, report = harvest(wanted, roots, max_pairs=max_pairs, progress=rt.progress)
    empty = [lang for lang in wanted if not report.pairs.get(lang)]
    if not rows:
        raise ConfigError(
            f"no usable pairs for {', '.join(wanted)} in {', '.join(map(str, roots))}",
            hint="check the language codes (ja, zh-tw, de …) or add --from folders",
        )
    n = write_tsv(rows, out_file)
    if json_output:
        typer.echo(json.dumps({"file": str(out_file), **asdict(report)}, ensure_ascii=False, indent=2))
        return
    per_lang = ", ".join(f"{lang} {count}" for lang, count in report.pairs.items())
    out.print(f"wrote {n} pairs to {out_file} ({per_lang})", highlight=False)
    dropped = ", ".join(f"{why} {count}" for why, count in sorted(report.dropped.items()))
    out.print(f"dropped: {dropped}", highlight=False)
    if empty:
        out.print(f"no pairs for: {', '.join(empty)}", highlight=False)
    for problem in report.unreadable[:5]:
        out.print(f"unreadable: {problem}", highlight=False)


@train_app.command("distill")
def distill_cmd(
    ctx: typer.Context,
    pairs_file: Annotated[Path, typer.Argument(help="Parallel TSV from `babelrag train fetch-parallel`.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the trained model.")],
    teacher: Annotated[
        str | None,
        typer.Option(
            help="Teacher embedder (pack name, HF id or folder). Default: the student itself, whose "
            "English vectors its translations then learn to match (measured: see the README)."
        ),
    ] = None,
    student: Annotated[str | None, typer.Option(help="Student embedder (default: models.embedder).")] = None,
    max_pairs: Annotated[
        int, typer.Option(help="Pairs to train on, split evenly over the languages.")
    ] = 20000,
    max_steps: Annotated[
        int | None, typer.Option(help="Stop after this many steps (default: one epoch).")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Rows per step.")] = 32,
    learning_rate: Annotated[
        float, typer.Option(help="Peak learning rate (2e-5 moved the untrained languages too far).")
    ] = 5e-6,
    eval_dirs: Annotated[
        list[Path] | None,
        typer.Option("--eval", help="BEIR folders to measure dense MRR@10 on before and after (repeatable)."),
    ] = None,
    eval_queries: Annotated[int, typer.Option(help="Queries per --eval folder.")] = 100,
    roles: Annotated[
        str,
        typer.Option(
            help="Which of the models' prompts the rows are trained with, in turn: query,document "
            "or query (the document side, and so an existing index, then moves least)."
        ),
    ] = "query",
    json_output: JsonOption = False,
) -> None:
    """Multilingual knowledge distillation: the student learns to embed a sentence and its
    translation where the teacher embeds the English one. Resumes from the last checkpoint."""
    from dataclasses import asdict

    from babelrag.agents.console import out
    from babelrag.agents.hf_models import load_sentence_transformer, quiet_hf_logging
    from babelrag.agents.training.distill import DistillConfig, distill
    from babelrag.agents.training.parallel import read_tsv

    rows = list(read_tsv(pairs_file))
    with runtime_for(ctx) as rt:
        student_id = student or rt.settings.models.embedder
        teacher = teacher or student_id
        quiet_hf_logging()
        with rt.progress.task(f"loading teacher {teacher} and student {student_id}"):
            student_model = load_sentence_transformer(rt.resolve(student_id), rt.settings.models.device)
            # distill() computes every teacher vector before training starts, so a student that is
            # its own teacher needs no second copy in memory
            teacher_model = (
                student_model
                if teacher == student_id
                else load_sentence_transformer(rt.resolve(teacher), rt.settings.models.device)
            )
        config = DistillConfig(
            max_pairs=max_pairs,
            max_steps=max_steps,
            batch_size=batch_size,
            learning_rate=learning_rate,
            student_prompts=_prompts(student_model, roles) or ("",),
            teacher_prompts=_prompts(teacher_model, roles),  # by role: query with query, and so on
        )
        evaluate = _evaluator(rt, eval_dirs or [], eval_queries) if eval_dirs else None
        report = distill(
            teacher=teacher_model,
            student=student_model,
            teacher_id=teacher,
            student_id=student_id,
            rows=rows,
            output=out_dir,
            config=config,
            progress=rt.progress,
            evaluate=evaluate,
        )
    if json_output:
        typer.echo(json.dumps(asdict(report), ensure_ascii=False, indent=2))
        return
    out.print(
        f"trained {report.steps} steps on {report.pairs} pairs in {report.seconds / 60:.1f} min; "
        f"loss {report.loss_first} -> {report.loss_last}; saved to {out_dir}",
        highlight=False,
    )
    for stage, results in report.evaluation.items():
        out.print(f"{stage}: {results}", highlight=False)
    out.print(f"use it: babelrag kb reembed --embedder {out_dir} --backend torch --kb NAME", highlight=False)


def _prompts(model: Any, roles: str = "query,document") -> tuple[str, ...]:
    """The model's prompts for ``roles`` (e5: "query: ", "passage: "), those it has."""
    from babelrag.stores.errors import ConfigError

    prompts = getattr(model, "prompts", {}) or {}
    names = {"query": ("query", "search_query"), "document": ("passage", "document", "search_document")}
    out = []
    for role in (r.strip() for r in roles.split(",") if r.strip()):
        if role not in names:
            raise ConfigError(f"unknown role {role!r}", hint="--roles takes query, document or both")
        out += [prompts[k] for k in names[role] if prompts.get(k)][:1]
    return tuple(out)


def _evaluator(rt: Any, folders: list[Path], max_queries: int) -> Any:
    """Dense MRR@10 of a model on each BEIR folder, in a scratch data directory."""
    import tempfile

    from babelrag.agents.config import StoreSettings
    from babelrag.agents.evaluation.beir import load_beir
    from babelrag.agents.evaluation.harness import prepare_corpus_kb, retrieval_modes
    from babelrag.agents.evaluation.retrieval_eval import run_retrieval_eval
    from babelrag.agents.runtime import Runtime
    from babelrag.stores.embeddings import SentenceTransformerEmbeddings

    datasets = [(folder.name, load_beir(folder)) for folder in folders]
    calls = [0]

    def evaluate(model: Any) -> dict[str, float]:
        calls[0] += 1
        results: dict[str, float] = {}
        with tempfile.TemporaryDirectory(prefix="babelrag-train-eval-") as home:
            # scratch knowledge bases: embedded in the temporary home, never on a shared Chroma server
            settings = rt.settings.model_copy(update={"home": Path(home), "store": StoreSettings()})
            sub = Runtime(settings, rt.progress)
            sub.__dict__["embedder"] = SentenceTransformerEmbeddings(
                model, model_id=f"training-eval-{calls[0]}", batch_size=16
            )
            for name, dataset in datasets:
                kb_rt = prepare_corpus_kb(sub, dataset)
                report = run_retrieval_eval(
                    dataset,
                    modes=retrieval_modes(kb_rt, dataset, k=10, modes=("dense",)),
                    max_queries=max_queries,
                    progress=rt.progress,
                )
                results[name] = round(report.to_dict()["modes"]["dense"]["metrics"]["MRR@10"], 4)
        return results

    return evaluate
