"""The evaluation harness on a fake embedder: the whole-document reference mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelrag.agents.config import load_settings
from babelrag.agents.evaluation.beir import BeirDataset, CorpusDoc, Query
from babelrag.agents.evaluation.harness import retrieval_modes
from babelrag.agents.runtime import Runtime
from babelrag.stores.fakes import KeywordEmbeddings

pytestmark = pytest.mark.unit


class CountingEmbeddings(KeywordEmbeddings):
    def __init__(self) -> None:
        super().__init__(dimension=128)
        self.documents = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.documents += len(texts)
        return super().embed_documents(texts)


def test_whole_document_mode_ranks_documents_by_title_and_text_and_caches_them(tmp_path: Path) -> None:
    dataset = BeirDataset(
        corpus={
            "tea": CorpusDoc("tea", "Green tea", "Use water at 80 degrees for the leaves."),
            "bike": CorpusDoc("bike", "Bicycle chain", "Oil the chain every 300 kilometres."),
            "bread": CorpusDoc("bread", "Bread", "Bake it for forty minutes."),
        },
        queries={"q": Query("q", "green tea water")},
        qrels={"q": {"tea": 1}},
        fingerprint="x",
    )
    settings = load_settings(home=tmp_path / "home", cache_dir=tmp_path / "cache")
    rt = Runtime(settings)
    embedder = CountingEmbeddings()
    rt.__dict__["embedder"] = embedder
    search = retrieval_modes(rt, dataset, k=2, modes=("whole-doc",))["whole-doc"]
    assert search("green tea water", "en")[0] == "tea" and len(search("chain oil", "en")) == 2
    assert search("chain oil", "en")[0] == "bike"
    assert embedder.documents == 3
    retrieval_modes(rt, dataset, k=2, modes=("whole-doc",))  # vectors come from the cache
    assert embedder.documents == 3
    with pytest.raises(ValueError, match="whole-doc"):
        retrieval_modes(rt, dataset, modes=("half-doc",))


def test_chunk_modes_leave_the_sections_out_and_the_others_use_the_setting(tmp_path: Path) -> None:
    dataset = BeirDataset(
        corpus={"tea": CorpusDoc("tea", "Green tea", "Use water at 80 degrees.")},
        queries={"q": Query("q", "green tea")},
        qrels={"q": {"tea": 1}},
        fingerprint="x",
    )
    rt = Runtime(load_settings(home=tmp_path / "home", cache_dir=tmp_path / "cache"))
    asked: dict[bool, float | None] = {}

    def record(**kwargs):
        asked[kwargs["translate"]] = kwargs["section_weight"]
        return None

    rt.cross_lingual_retriever = record  # type: ignore[method-assign]
    retrieval_modes(rt, dataset, modes=("dense-chunks", "fused-chunks"))
    assert asked == {False: 0.0, True: 0.0}
    retrieval_modes(rt, dataset, modes=("dense", "fused"))
    assert asked == {False: None, True: None}, "None: retrieval.section_weight from the settings"
