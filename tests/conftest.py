"""Shared fixtures: seeded randomness, isolated data dirs, the real packaged models (loaded once)."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
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
    from babelrag.agents.hf_models import load_sentence_transformer, quiet_hf_logging
    from babelrag.stores.embeddings import SentenceTransformerEmbeddings

    path = _pack_path("babelrag/multilingual-e5-small")
    quiet_hf_logging()
    model = load_sentence_transformer(str(path), "cpu")
    return SentenceTransformerEmbeddings(model, model_id="babelrag/multilingual-e5-small", batch_size=16)


@pytest.fixture(scope="session")
def default_embeddings():
    """The packaged e5 on the backend the default settings choose (int8 ONNX on a CPU), loaded once."""
    from babelrag.agents.config import ModelSettings
    from babelrag.agents.hf_models import embedder_id, load_sentence_transformer, quiet_hf_logging
    from babelrag.stores.embeddings import SentenceTransformerEmbeddings

    name = "babelrag/multilingual-e5-small"
    backend = ModelSettings(device="cpu").backend
    quiet_hf_logging()
    model = load_sentence_transformer(
        str(_pack_path(name)), "cpu", backend=backend, cache_dir=model_cache_dir()
    )
    return SentenceTransformerEmbeddings(model, model_id=embedder_id(name, backend), batch_size=16)


@pytest.fixture(scope="session")
def qwen_chat_model():
    """The real packaged Qwen2.5-Coder-0.5B-Instruct as a ``TransformersChatModel``, loaded once per session.

    Tests that need other decoding take a ``model_copy(update={"decoding": ...})``: the weights
    are shared, not loaded again.
    """
    from babelrag.agents.config import GenerationSettings, ModelSettings, Settings
    from babelrag.agents.hf_models import load_causal_lm, quiet_hf_logging
    from babelrag.chains.generator import TransformersChatModel

    name = "babelrag/qwen2.5-coder-0.5b-instruct"
    path = _pack_path(name)
    quiet_hf_logging()
    # explicit sections, so no BABELRAG_ variable changes what loads: this runs before any
    # test has isolated the environment
    settings = Settings(models=ModelSettings(device="cpu"), generation=GenerationSettings())
    model, tokenizer = load_causal_lm(str(path), settings)
    return TransformersChatModel(model=model, tokenizer=tokenizer, model_id=name)


@pytest.fixture(scope="session")
def llama_chat_model():
    """The packaged Qwen2.5-Coder-0.5B-Instruct GGUF on the llama.cpp engine, loaded once per session."""
    from babelrag.agents.hf_models import gguf_file, load_llama
    from babelrag.chains.llama_cpp import LlamaCppChatModel

    name = "babelrag/qwen2.5-coder-0.5b-instruct-gguf"
    path = gguf_file(str(_pack_path(name)))
    assert path is not None, f"{name} holds no .gguf file"
    llama = load_llama(path, context_tokens=4096, threads=None)
    return LlamaCppChatModel(llama=llama, model_id=name, context_tokens=4096)


@pytest.fixture(scope="session")
def sample_runtime(tmp_path_factory, default_embeddings, request):
    """A runtime over the ingested sample KB with the default embedder, generator and engines,
    sharing the session's loaded models (never reloaded)."""
    from babelrag.agents.config import load_settings
    from babelrag.agents.runtime import Runtime

    home = tmp_path_factory.mktemp("sample-home")
    settings = load_settings(
        home=home, cache_dir=model_cache_dir(), kb="sample", translation={"cache": False}
    )
    rt = Runtime(settings)
    rt.__dict__["embedder"] = default_embeddings
    gguf = settings.models.generator.endswith("-gguf")
    generator = request.getfixturevalue("llama_chat_model" if gguf else "qwen_chat_model")
    rt.__dict__["llm"] = generator.model_copy(
        update={"decoding": rt.decoding(), "context_tokens": settings.generation.context_tokens}
    )
    report = rt.ingestor().ingest([SAMPLE_KB])
    assert not report.failed
    return rt


@pytest.fixture
def keyword_store(tmp_path: Path):
    """A knowledge base of three small files (en, de, zh) embedded with the keyword fake."""
    from babelrag.stores.fakes import KeywordEmbeddings
    from tests.store_cases import make_ingestor, write_kb

    ingestor = make_ingestor(tmp_path, KeywordEmbeddings(dimension=128))
    ingestor.ingest([write_kb(tmp_path)])
    return ingestor.store


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chroma_cli() -> str | None:
    """The ``chroma`` command installed with chromadb (next to this interpreter, else on PATH)."""
    import shutil
    import sys

    beside = Path(sys.executable).parent / "chroma"
    return str(beside) if beside.exists() else shutil.which("chroma")


@pytest.fixture(scope="session")
def chroma_server_url(tmp_path_factory) -> Iterator[str]:
    """A real Chroma server (``chroma run``) on a free loopback port for the whole session."""
    import subprocess
    import time
    import urllib.request

    cli = chroma_cli()
    if cli is None:
        pytest.skip("the `chroma` command (installed with chromadb) is not available")
    tmp = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (tmp / "server.log").open("wb") as log:
        proc = subprocess.Popen(
            [cli, "run", "--path", str(tmp / "data"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"chroma run exited with {proc.returncode}:\n{(tmp / 'server.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"chroma run did not answer within 60 s:\n{(tmp / 'server.log').read_text()}")
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def chroma_server_client(chroma_server_url: str):
    """A client of the session's Chroma server, emptied of every collection first."""
    from babelrag.stores.chroma_server import open_chroma_server

    client = open_chroma_server(chroma_server_url)
    for collection in client.list_collections():
        client.delete_collection(collection.name)
    return client
