"""Evaluation over the real stack: a cached knowledge base for a test corpus, and the
retrieval modes compared side by side.

The corpus is ingested once per (corpus fingerprint, embedder) into a knowledge base named
after both, so repeated evaluations (other modes, other query languages of the same corpus)
skip the slow embedding step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from babelrag.agents.evaluation.beir import BeirDataset
from babelrag.agents.evaluation.retrieval_eval import corpus_to_jsonl, hits_to_doc_ids
from babelrag.agents.hf_models import embedder_id
from babelrag.agents.runtime import Runtime

Mode = Callable[[str, str | None], list[str]]
MODES = ("dense", "translated", "fused", "fused+lexical")


def eval_kb_name(dataset: BeirDataset, embedder: str, translate_to: Sequence[str] = ()) -> str:
    """Named after the corpus and the embedder id (not the queries): query sets in several languages
    share it; the torch and onnx-int8 backends of one model do not, nor do corpora translated at
    ingest into other languages."""
    digest = hashlib.sha256(embedder.encode())
    if translate_to:
        digest.update(f"\0translate:{','.join(translate_to)}".encode())
    for doc in sorted(dataset.corpus.values(), key=lambda d: d.id):
        digest.update(f"\0{doc.id}\0{doc.title}\0{doc.text}\0{doc.lang}".encode())
    return f"eval-{digest.hexdigest()[:12]}"


def corpus_kb_name(rt: Runtime, dataset: BeirDataset) -> str:
    """The evaluation knowledge base of ``dataset`` for the runtime's embedder and backend."""
    models = rt.settings.models
    return eval_kb_name(
        dataset, embedder_id(models.embedder, models.backend), rt.settings.ingest.translate_to
    )


def prepare_corpus_kb(rt: Runtime, dataset: BeirDataset) -> Runtime:
    """A runtime on the corpus's knowledge base, ingesting the corpus if it is not there yet."""
    kb = corpus_kb_name(rt, dataset)
    rt = rt.with_kb(kb)
    jsonl = rt.settings.cache_dir / "eval" / f"{kb}.jsonl"
    if not jsonl.exists():
        corpus_to_jsonl(dataset, jsonl)
    report = rt.ingestor().ingest([jsonl], rt.progress)  # a no-op when already ingested
    if report.failed:
        raise RuntimeError(f"ingesting the evaluation corpus failed: {report.failed}")
    return rt


def corpus_language(dataset: BeirDataset) -> str:
    langs = [d.lang for d in dataset.corpus.values() if d.lang]
    return max(set(langs), key=langs.count) if langs else "en"


def retrieval_modes(
    rt: Runtime, dataset: BeirDataset, *, k: int = 10, modes: tuple[str, ...] = MODES
) -> dict[str, Mode]:
    """Functions (query, lang) -> ranked corpus ids. Chunks are over-fetched so that k documents remain."""
    fetch = 3 * k
    target = corpus_language(dataset)
    built: dict[str, Mode] = {}

    def through(
        translate: bool,
        lexical: bool,
        weight: float | None = None,
        merge: str | None = None,
        sections: float | None = None,
    ) -> Mode:
        retriever = rt.cross_lingual_retriever(
            section_weight=sections,
            merge=merge,
            k=fetch,
            translate=translate,
            lexical=lexical,
            fetch_k=max(rt.settings.retrieval.fetch_k, fetch),
            translation_weight=weight,
            target_languages=(target,),
            max_targets=1,
        )
        return lambda text, lang: hits_to_doc_ids(retriever.retrieve(text, query_lang=lang).hits)[:k]

    plain: list[Any] = []  # built on first use: the whole-doc mode needs no knowledge base

    def translated(text: str, lang: str | None) -> list[str]:
        source = lang or "und"
        query = text if source == target else (rt.translator.translate(text, source, target) or text)
        if not plain:
            plain.append(rt.cross_lingual_retriever(k=fetch, translate=False, lexical=False))
        return hits_to_doc_ids(plain[0].retrieve(query).hits)[:k]

    for name in modes:
        if name == "dense":
            built[name] = through(False, False)
        elif name == "translated":
            built[name] = translated
        elif name == "fused":
            built[name] = through(True, False)
        elif name in ("dense-chunks", "fused-chunks"):  # section entries not counted: the chunk alone
            built[name] = through(name == "fused-chunks", False, sections=0.0)
        elif name == "fused-rank":  # the question's and translations' lists fused by rank
            built[name] = through(True, False, merge="rank")
        elif name == "fused+lexical":
            built[name] = through(True, True)
        elif name == "dense+lexical":
            built[name] = through(False, True)
        elif name == "whole-doc":
            built[name] = whole_document_mode(rt, dataset, k=k)
        elif name.startswith(("fused@", "fused+lexical@")):  # e.g. fused@3: translation lists weigh 3
            base, _, weight = name.partition("@")
            merge = "rank" if base == "fused" else None  # a weight only tells in a rank fusion
            built[name] = through(True, base == "fused+lexical", _weight(weight, name), merge)
        else:
            extra = ("dense+lexical", "fused-rank", "dense-chunks", "fused-chunks", "whole-doc", "fused@W")
            choices = ", ".join((*MODES, *extra))
            raise ValueError(f"unknown mode {name!r}; choose from {choices}")
    return built


def _weight(value: str, name: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"mode {name!r}: the weight after @ must be a number") from None


def whole_document_mode(rt: Runtime, dataset: BeirDataset, *, k: int = 10) -> Mode:
    """The reference line: the same embedder on each whole document (title and text, truncated at
    the model's limit), searched exactly. What the chunked pipeline loses against it shows in
    every table. The vectors are cached beside the evaluation knowledge base."""
    import numpy as np

    from babelrag.stores.context import contextual_text

    embedder = rt.embedder
    name = corpus_kb_name(rt, dataset)
    ids = sorted(dataset.corpus)
    cache = rt.settings.cache_dir / "eval" / f"{name}-whole-doc.npy"
    matrix = np.load(cache) if cache.exists() else None
    if matrix is None or matrix.shape[0] != len(ids):
        texts = [contextual_text(dataset.corpus[i].title, dataset.corpus[i].text) for i in ids]
        vectors = []
        with rt.progress.task("embedding whole documents", total=len(texts)) as task:
            for start in range(0, len(texts), 16):
                vectors += embedder.embed_documents(texts[start : start + 16])
                task.advance(len(texts[start : start + 16]))
        matrix = np.asarray(vectors, dtype=np.float32)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".partial.npy")
        np.save(tmp, matrix)
        tmp.replace(cache)

    def search(text: str, lang: str | None) -> list[str]:
        scores = matrix @ np.asarray(embedder.embed_query(text), dtype=np.float32)
        return [ids[i] for i in np.argsort(-scores)[:k]]

    return search
