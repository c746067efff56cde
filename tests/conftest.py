"""Shared fixtures: seeded randomness, isolated data dirs, the real packaged models (loaded once)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_KB = REPO / "examples" / "sample_kb"


@pytest.fixture(autouse=True)
def _seed() -> None:
    random.seed(1234)
    try:
        import numpy as np

        np.random.seed(1234)
    except ImportError:  # pragma: no cover
        pass


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the developer's config or write to their data directory."""
    for var in [v for v in os.environ if v.startswith("BABELRAG_") and v != "BABELRAG_TEST_REQUIRE_MODELS"]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


def model_cache_dir() -> Path:
    """Where `babelrag models install` put the pack (the real user cache, shared across runs)."""
    from babelrag.agents.config import default_cache_dir

    return Path(os.environ.get("BABELRAG_TEST_CACHE_DIR", default_cache_dir()))


def _pack_path(name: str) -> Path:
    from babelrag.agents.modelpack.registry import ModelPack

    status = ModelPack(model_cache_dir()).status(name)
    if not status.installed:
        message = f"{name} is not installed; run `babelrag models install` (make test does)"
        if os.environ.get("BABELRAG_TEST_REQUIRE_MODELS"):
            pytest.fail(message)
        pytest.skip(message)
    return status.path


@pytest.fixture(scope="session")
def e5_embeddings():
    """The real packaged multilingual-e5-small, loaded once per test session."""
    from babelrag.agents.runtime import _load_sentence_transformer, quiet_hf_logging
    from babelrag.stores.embeddings import SentenceTransformerEmbeddings

    path = _pack_path("babelrag/multilingual-e5-small")
    quiet_hf_logging()
    model = _load_sentence_transformer(str(path), "cpu")
    return SentenceTransformerEmbeddings(model, model_id="babelrag/multilingual-e5-small", batch_size=16)
