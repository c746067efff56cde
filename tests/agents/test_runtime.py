"""The composition root: one way in, nothing mutated, administration without models."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from babelrag.agents.config import load_settings
from babelrag.agents.hf_models import resolve_dtype
from babelrag.agents.runtime import Runtime
from babelrag.stores.errors import ConfigError, StoreError
from babelrag.stores.fakes import KeywordEmbeddings
from tests.store_cases import write_kb

pytestmark = pytest.mark.unit


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    """A runtime whose embedder is the keyword fake (no model is loaded)."""
    rt = Runtime(load_settings(home=tmp_path / "home", cache_dir=tmp_path / "cache", kb="notes"))
    rt.__dict__["embedder"] = KeywordEmbeddings(dimension=64)
    return rt


class NoModels(Runtime):
    """Fails the test if anything asks for a model."""

    @property
    def embedder(self):  # type: ignore[override]
        raise AssertionError("administration loaded the embedding model")

    @property
    def llm(self):  # type: ignore[override]
        raise AssertionError("administration loaded the generator")


def test_administration_never_loads_a_model(runtime: Runtime, tmp_path: Path) -> None:
    runtime.ingestor().ingest([write_kb(tmp_path)])
    admin = NoModels(runtime.settings)
    catalog = admin.catalog()
    assert catalog.list() == {"notes": runtime.store().chunk_count()}
    info = catalog.info("notes")
    assert info.embedder_id == "fake/keywords" and info.dimension == 64 and info.chunks > 0
    assert {"en", "de", "zh"} <= set(info.languages) and len(info.sources) == 3
    assert set(info.to_dict()) == {"kb", "chunks", "embedder", "languages", "sources"}
    store = catalog.open("notes")
    with pytest.raises(StoreError, match="without its embedding model"):
        store.search("tea")
    catalog.drop("notes")
    assert catalog.list() == {}
    with pytest.raises(StoreError, match="no knowledge base named 'notes'"):
        catalog.info("notes")


def test_an_empty_data_directory_is_listed_without_being_created(tmp_path: Path) -> None:
    rt = NoModels(load_settings(home=tmp_path / "nothing-here"))
    assert rt.catalog().list() == {}
    assert not (tmp_path / "nothing-here").exists()


def test_settings_cannot_be_changed_in_place(runtime: Runtime) -> None:
    with pytest.raises(ValidationError):
        runtime.settings.kb = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        runtime.settings.retrieval.k = 9  # type: ignore[misc]


def test_with_kb_derives_a_runtime_sharing_the_loaded_models(runtime: Runtime) -> None:
    other = runtime.with_kb("other")
    assert other is not runtime and other.settings.kb == "other" and runtime.settings.kb == "notes"
    assert other.embedder is runtime.embedder, "the loaded embedder is shared, not loaded again"
    assert runtime.with_kb("notes") is runtime
    with pytest.raises(ConfigError, match="invalid knowledge base name"):
        runtime.with_kb("../escape")


def test_every_command_gets_the_same_retriever_with_modes_from_settings(runtime: Runtime) -> None:
    runtime.ingestor().ingest([write_kb(runtime.settings.home.parent)])
    plain = runtime.cross_lingual_retriever(translate=False, lexical=False, k=3)
    assert (plain.use_translation, plain.translator, plain.k) == (False, None, 3)
    lexical = runtime.cross_lingual_retriever(translate=False, lexical=True, fetch_k=7, max_targets=1)
    assert lexical.use_lexical and lexical.lexical is not None and lexical.fetch_k == 7
    assert (
        lexical.max_targets == 1
        and lexical.translation_weight == runtime.settings.retrieval.translation_weight
    )


@pytest.mark.parametrize(("native", "expected"), [(True, "bfloat16"), (False, "float32")])
def test_auto_dtype_takes_bf16_only_where_the_cpu_computes_it_natively(monkeypatch, native, expected) -> None:
    import torch

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: native)
    assert resolve_dtype("auto", "cpu") == expected
    assert resolve_dtype("bfloat16", "cpu") == "bfloat16", "an explicit choice is kept"
    assert resolve_dtype("float32", "cpu") == "float32"


def test_query_translation_auto_follows_the_embedder(tmp_path: Path) -> None:
    """auto: translate for e5 (fused beats dense there), not for EmbeddingGemma (dense beats fused)."""
    from babelrag.agents.config import load_settings
    from babelrag.agents.runtime import Runtime

    def runtime(**sections: dict) -> Runtime:
        return Runtime(load_settings(home=tmp_path, **sections))

    assert runtime().translates_queries is True
    assert runtime(models={"embedder": "babelrag/embeddinggemma-300m"}).translates_queries is False
    gemma_on = runtime(models={"embedder": "babelrag/embeddinggemma-300m"}, retrieval={"translate": True})
    assert gemma_on.translates_queries is True
    assert runtime(retrieval={"translate": False}).translates_queries is False
