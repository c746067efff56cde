"""``babelrag train``: parallel data from gettext catalogs, distillation into a fast retriever, and
adapting the retriever to a knowledge base with the generator as the teacher."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from babelrag.agents.cli.common import JsonOption, KbOption, runtime_for

train_app = typer.Typer(
    help="Train the retriever: parallel data (fetch-parallel), knowledge distillation (distill), "
    "adaptation to a knowledge base (retriever).",
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
    dictionaries: Annotated[
        list[str] | None,
        typer.Option(
            "--dictionary",
            help="A dictd dictionary into English whose terms to add (repeatable): FreeDict's "
            "NAME.dict.dz with NAME.index beside it (`apt-get download dict-freedict-deu-eng`, "
            "`dpkg -x`; usr/share/dictd/freedict-deu-eng.dict.dz); LANG=PATH where the name does not "
            "say the language. Kept: terms whose headword occurs in that language's catalogs and whose "
            "English sense occurs in the English ones.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """English–translation pairs from the gettext catalogs Debian packages ship, and (--dictionary)
    the terms of those catalogs that a dictionary translates.

    Debian Reference, the evaluation corpus, is never read."""
    from dataclasses import asdict

    from babelrag.agents.console import out
    from babelrag.agents.training.parallel import dictionary_terms, harvest, write_tsv
    from babelrag.stores.errors import ConfigError

    roots = from_dirs or [Path("/usr/share/locale")]
    missing = [str(r) for r in roots if not r.is_dir()]
    if missing:
        raise ConfigError(f"no such folder: {', '.join(missing)}", hint="--from takes a locale folder")
    wanted = [lang.strip() for lang in langs.split(",") if lang.strip()]
    sources = [_dictionary(spec, wanted) for spec in dictionaries or []]
    with runtime_for(ctx) as rt:
        rows, report = harvest(wanted, roots, max_pairs=max_pairs, progress=rt.progress)
        for lang, path in sources:
            with rt.progress.task(f"reading {path.name}", total=None):
                terms = dictionary_terms(path, lang, rows)
            report.terms[lang] = report.terms.get(lang, 0) + len(terms)
            rows += terms
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
    if report.terms:
        terms_line = ", ".join(f"{lang} {count}" for lang, count in report.terms.items())
        out.print(f"dictionary terms (their own share in `train distill`): {terms_line}", highlight=False)
    if empty:
        out.print(f"no pairs for: {', '.join(empty)}", highlight=False)
    for problem in report.unreadable[:5]:
        out.print(f"unreadable: {problem}", highlight=False)


def _dictionary(spec: str, langs: list[str]) -> tuple[str, Path]:
    """(language, path) of a --dictionary value: PATH or LANG=PATH."""
    from babelrag.agents.training.parallel import dictionary_language
    from babelrag.stores.errors import ConfigError

    lang, sep, name = spec.partition("=")
    path = Path(name if sep else spec).expanduser()
    lang = lang.strip() if sep else dictionary_language(path) or ""
    if not path.is_file():
        raise ConfigError(f"no such dictionary: {path}", hint="--dictionary takes a dictd NAME.dict.dz file")
    if not lang:
        raise ConfigError(
            f"which language is {path.name} from?",
            hint=f"name it: --dictionary LANG={path} (FreeDict file names say it: freedict-deu-eng)",
        )
    if lang not in langs:
        raise ConfigError(
            f"{path.name} is a {lang} dictionary, and {lang} is not in --langs",
            hint=f"add {lang} to --langs: terms are kept when they occur in that language's catalogs",
        )
    return lang, path


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
        int,
        typer.Option(
            help="Pairs to train on, split evenly over the languages (2 cores: about 8,000 pairs in "
            "30 minutes with --ranking, 16,000 without)."
        ),
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
            help="The models' prompts the two sides are trained with: query,document (the English "
            "as a query, the translation as a document; Debian Reference titles: no language lower) "
            "or query (both as queries; it lowered German and French titles by .01-.02)."
        ),
    ] = "query,document",
    ranking: Annotated[
        bool,
        typer.Option(
            "--ranking/--no-ranking",
            help="Also train every pair with a ranking loss: the translation as a query must find "
            "its English (as a document) among the batch's other English sides. On Debian Reference "
            "it lifted 8 of 12 sets over MSE alone (German titles +.016), the others within .004; "
            "a run takes about 2.4 times as long.",
        ),
    ] = True,
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
            ranking=ranking,
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


@train_app.command("retriever")
def retriever_cmd(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the trained model and its data.")],
    langs: Annotated[str, typer.Option(help="Languages to write questions in, e.g. en,zh,de.")],
    kb: KbOption = None,
    max_passages: Annotated[int, typer.Option(help="Passages to write questions for.")] = 300,
    negatives: Annotated[int, typer.Option(help="Hard negatives per question (from the store).")] = 3,
    eval_fraction: Annotated[
        float, typer.Option(help="Share of the documents held out: their questions are the evaluation.")
    ] = 0.2,
    loss: Annotated[
        str,
        typer.Option(
            help="mnrl: ranking loss on the positives with hard negatives; kl: toward the generator's "
            "scores of the candidates (REPLUG)."
        ),
    ] = "mnrl",
    lm_temperature: Annotated[
        float,
        typer.Option(
            help="With --loss kl: the generator's softmax is over log P(question | passage) / this "
            "(1: its posterior over the candidates)."
        ),
    ] = 1.0,
    student: Annotated[str | None, typer.Option(help="Embedder to train (default: models.embedder).")] = None,
    max_steps: Annotated[
        int | None, typer.Option(help="Stop after this many steps (default: --epochs over the data).")
    ] = None,
    epochs: Annotated[int, typer.Option(help="Passes over the training questions.")] = 1,
    batch_size: Annotated[int, typer.Option(help="Questions per step.")] = 16,
    learning_rate: Annotated[float, typer.Option(help="Peak learning rate.")] = 2e-5,
    eval_corpus: Annotated[
        int, typer.Option(help="At most this many passages ranked per held-out question.")
    ] = 5000,
    seed: Annotated[int, typer.Option(help="Seeds the passage sample and the held-out split.")] = 42,
    json_output: JsonOption = False,
) -> None:
    """Adapt the embedder to a knowledge base without labels: the generator writes questions about
    its passages and scores candidate passages; the embedder learns from them. The data is kept
    in --out (a re-run reuses it and a stopped run resumes); held-out documents' questions measure
    the result."""
    from dataclasses import asdict

    from babelrag.agents.cli.common import parse_language
    from babelrag.agents.console import out
    from babelrag.agents.hf_models import load_sentence_transformer, quiet_hf_logging
    from babelrag.agents.training.kb_adapt import LOSSES, AdaptConfig, adapt, evaluate_questions, new_report
    from babelrag.agents.training.kb_adapt import evaluation_corpus as eval_corpus_of
    from babelrag.agents.training.kb_data import (
        QUESTION_VARIABLES,
        DataFile,
        build_data,
        generator_teacher,
        held_out_documents,
        read_passages,
        sample_passages,
    )
    from babelrag.stores.errors import ConfigError, StoreError
    from babelrag.stores.langdetect import detect_language

    wanted = list(dict.fromkeys(parse_language(x.strip()) for x in langs.split(",") if x.strip()))
    if not wanted:
        raise ConfigError("--langs names no language", hint="e.g. --langs en,zh,de")
    if loss not in LOSSES:
        raise ConfigError(f"unknown loss {loss!r}", hint=f"choose one of {', '.join(LOSSES)}")
    if not lm_temperature > 0:
        raise ConfigError("--lm-temperature must be above 0")
    if not 0 <= eval_fraction < 1:
        raise ConfigError("--eval-fraction must be at least 0 and below 1")
    with runtime_for(ctx, kb=kb) as rt:
        name = rt.settings.kb
        if rt.catalog().open(name).count() == 0:  # an unknown name is an error here, before any model
            hint = f"ingest documents: babelrag ingest PATH --kb {name}"
            raise StoreError(f"knowledge base {name!r} has no passages", hint=hint)
        store = rt.store()
        passages = read_passages(store.iter_chunks(texts=True))
        if not passages:
            raise StoreError(
                f"knowledge base {name!r} has no passage long enough to ask about (80 characters)",
                hint="ingest documents with more text",
            )
        texts = {p.id: p.text for p in passages}
        held_out = held_out_documents((p.doc for p in passages), eval_fraction, seed)
        sample = sample_passages(passages, max_passages, seed)
        data = DataFile(out_dir / "training-data" / "questions.jsonl")
        data.check_settings({"kb": name, "eval_fraction": eval_fraction, "seed": seed})
        done = {(r.passage_id, r.lang) for r in data.read()}
        data_seconds = 0.0
        if any((p.id, lang) not in done for p in sample for lang in wanted):
            teacher = generator_teacher(
                rt.llm,
                rt.prompt("kb_question", QUESTION_VARIABLES),
                model_id=rt.settings.models.generator,
            )
            built = build_data(
                passages=sample,
                langs=wanted,
                held_out=held_out,
                teacher=teacher,
                search=lambda q, k: store.search(q, k=k),
                detect_language=detect_language,
                data=data,
                negatives=negatives,
                progress=rt.progress,
            )
            data_seconds = built.seconds
        chosen = {p.id for p in sample}
        # records of passages no longer in the knowledge base, or not asked for now, are left out
        records = [r for r in data.read() if r.passage_id in chosen and r.lang in wanted]
        student_id = student or rt.settings.models.embedder
        quiet_hf_logging()
        with rt.progress.task(f"loading student {student_id}"):
            model = load_sentence_transformer(rt.resolve(student_id), rt.settings.models.device)
        query_prompt = rt.settings.models.query_prompt
        document_prompt = rt.settings.models.document_prompt
        query_prompt = query_prompt if query_prompt is not None else (_prompts(model, "query") or ("",))[0]
        if document_prompt is None:
            document_prompt = (_prompts(model, "document") or ("",))[0]
        config = AdaptConfig(
            loss=loss,
            max_steps=max_steps,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            seed=seed,
            query_prompt=query_prompt,
            document_prompt=document_prompt,
            lm_temperature=lm_temperature,
        )
        held = [r for r in records if r.kept and r.split == "eval"]
        corpus = eval_corpus_of(texts, {r.passage_id for r in held}, eval_corpus, seed)

        def evaluate(m: Any) -> dict[str, Any]:
            with rt.progress.task(f"ranking {len(corpus)} passages for {len(held)} held-out questions"):
                return evaluate_questions(
                    m, held, corpus, query_prompt=query_prompt, document_prompt=document_prompt
                )

        started = new_report(
            records, output=out_dir, kb=name, student=student_id, teacher=rt.settings.models.generator,
            loss=loss, passages=len(chosen), data_file=data.path, data_seconds=data_seconds,
        )  # fmt: skip
        started.eval_corpus = len(corpus) if held else 0
        report = adapt(
            student=model,
            records=records,
            texts=texts,
            output=out_dir,
            config=config,
            report=started,
            progress=rt.progress,
            evaluate=evaluate if held else None,
        )  # fmt: skip
    if json_output:
        typer.echo(json.dumps(asdict(report), ensure_ascii=False, indent=2))
        return
    trained = sum(report.questions.get("train", {}).values())
    out.print(
        f"trained {report.steps} steps ({report.loss}) on {trained} questions "
        f"in {report.seconds / 60:.1f} min "
        f"(data {report.data_seconds / 60:.1f} min); loss {report.loss_first} -> {report.loss_last}; "
        f"saved to {out_dir}",
        highlight=False,
    )
    before, after = report.evaluation.get("before") or {}, report.evaluation.get("after") or {}
    for lang in sorted(after):
        b, a = before.get(lang, {}), after[lang]
        out.print(
            f"held-out {lang} ({a['questions']} questions): MRR@10 {b.get('MRR@10')} -> {a['MRR@10']}, "
            f"R@5 {b.get('R@5')} -> {a['R@5']}",
            highlight=False,
        )
    if not after:
        out.print("no held-out questions: nothing was evaluated (raise --eval-fraction)", highlight=False)
    use = f"use it: babelrag kb reembed --embedder {out_dir} --backend torch --kb {name}"
    out.print(use, highlight=False)


def _prompts(model: Any, roles: str = "query,document") -> tuple[str, ...]:
    """The model's prompts for ``roles`` (e5: "query: ", "passage: "), those it has."""
    from babelrag.stores.errors import ConfigError

    prompts = getattr(model, "prompts", {}) or {}
    names = {"query": ("query", "search_query"), "document": ("passage", "document", "search_document")}
    out = []
    for role in (r.strip() for r in roles.split(",") if r.strip()):
        if role not in names:
            raise ConfigError(
                f"unknown role {role!r}", hint="--roles takes query, document, or both as query,document"
            )
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
