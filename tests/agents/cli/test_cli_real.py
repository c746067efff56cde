"""The command line end to end, in a subprocess, with the real packaged embedder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_KB, model_cache_dir

pytestmark = pytest.mark.integration


def babelrag(tmp_path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "BABELRAG_HOME": str(tmp_path / "home"),
        "BABELRAG_CACHE_DIR": str(model_cache_dir()),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "babelrag.agents.cli", "--quiet", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def kb_home(tmp_path_factory, e5_embeddings) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    proc = babelrag(tmp, "ingest", str(SAMPLE_KB), "--kb", "sample", "--json")
    report = json.loads(proc.stdout)
    assert len(report["added"]) == 15 and not report["failed"]
    return tmp


def test_search_json_contract(kb_home: Path) -> None:
    proc = babelrag(
        kb_home, "search", "Wie hoch sind die Türme des Kölner Doms?", "--kb", "sample", "-k", "2", "--json"
    )
    hits = json.loads(proc.stdout)
    assert len(hits) == 2
    for hit in hits:
        assert {"id", "source", "title", "lang", "score", "text"} <= set(hit)
        assert 0 <= hit["score"] <= 1 and Path(hit["source"]).is_absolute()
    assert hits[0]["source"].endswith("cologne.html") and hits[0]["lang"] == "en"


def test_search_with_language_and_metadata_filters(kb_home: Path) -> None:
    proc = babelrag(kb_home, "search", "tea", "--kb", "sample", "--lang", "German", "--json")
    assert {h["lang"] for h in json.loads(proc.stdout)} == {"de"}
    proc = babelrag(kb_home, "search", "Rhein", "--kb", "sample", "--where", "line=1", "--json")
    hits = json.loads(proc.stdout)
    assert hits and all(h["source"].endswith("faq.jsonl") and h["metadata"]["line"] == 1 for h in hits)


def test_search_with_translation_finds_the_english_passage_first(kb_home: Path) -> None:
    from tests.conftest import _pack_path

    _pack_path("babelrag/qwen2.5-coder-0.5b-instruct-gguf")  # skips (or fails under make test) without it
    question = "绿茶应该用多少度的水冲泡？"  # plain dense search ranks a Chinese tea passage first
    proc = babelrag(kb_home, "search", question, "--kb", "sample", "-k", "3", "--translate", "--json")
    hits = json.loads(proc.stdout)
    assert hits[0]["source"].endswith("green-tea-brewing.md") and hits[0]["lang"] == "en"
    assert any("translation:" in h["metadata"]["matched_by"] for h in hits)
    assert all(0 <= h["score"] <= 1 for h in hits), "scores stay cosine to the query as typed"


def test_reingest_changes_nothing_and_remove_works(kb_home: Path, tmp_path: Path) -> None:
    report = json.loads(babelrag(kb_home, "ingest", str(SAMPLE_KB), "--kb", "sample", "--json").stdout)
    assert len(report["unchanged"]) == 15 and report["chunks_embedded"] == 0
    doc = tmp_path / "note.md"
    doc.write_text("# Note\n\nThe office coffee machine is descaled every Friday.\n", encoding="utf-8")
    babelrag(kb_home, "ingest", str(doc), "--kb", "scratch")
    proc = babelrag(kb_home, "remove", str(doc), "--kb", "scratch")
    assert "removed" in proc.stdout
    proc = babelrag(kb_home, "remove", str(doc), "--kb", "scratch", check=False)
    assert proc.returncode == 1 and "not in knowledge base" in proc.stderr


def test_user_errors_are_messages_not_tracebacks(kb_home: Path) -> None:
    proc = babelrag(kb_home, "search", "x", "--kb", "no-such-kb", check=False)
    assert proc.returncode == 1 and "no knowledge base named 'no-such-kb'" in proc.stderr
    proc = babelrag(kb_home, "search", "x", "--kb", "bad name", check=False)
    assert proc.returncode == 1 and "knowledge base name" in proc.stderr
    proc = babelrag(kb_home, "search", "x", "--kb", "sample", "--lang", "klingonish", check=False)
    assert proc.returncode == 1 and "Unknown language" in proc.stderr
    proc = babelrag(kb_home, "search", "x", "--kb", "sample", "--where", "novalue", check=False)
    assert proc.returncode == 1 and "KEY=VALUE" in proc.stderr


def test_embedder_mismatch_from_the_cli(kb_home: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-embedder"
    other.mkdir()
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[models]\nembedder = "{model_cache_dir() / "models" / "multilingual-e5-small"}"\n')
    proc = babelrag(kb_home, "--config", str(cfg), "search", "x", "--kb", "sample", check=False)
    assert proc.returncode == 1 and "was built with the embedding model" in proc.stderr


def test_reembed_moves_a_knowledge_base_between_backends(kb_home: Path) -> None:
    """`kb reembed --backend` moves int8 (the default for e5) -> torch and back, from the stored text."""
    babelrag(kb_home, "ingest", str(SAMPLE_KB / "tea"), "--kb", "moving")
    question = "绿茶应该用多少度的水冲泡？"
    before = json.loads(babelrag(kb_home, "search", question, "--kb", "moving", "-k", "3", "--json").stdout)
    close = {hit["id"] for hit in before}  # int8 and fp32 may swap near ties, not leave the top 3
    proc = babelrag(kb_home, "kb", "reembed", "--backend", "torch", "--kb", "moving", "--json")
    report = json.loads(proc.stdout)
    assert report["old_embedder"] == "babelrag/multilingual-e5-small@onnx-int8"
    assert report["new_embedder"] == "babelrag/multilingual-e5-small"
    # the default (int8) configuration now refuses the fp32 index and says how to go on
    proc = babelrag(kb_home, "search", question, "--kb", "moving", check=False)
    assert proc.returncode == 1 and "embedding_backend = 'torch'" in proc.stderr
    assert "babelrag kb reembed --kb moving" in proc.stderr
    cfg = kb_home / "torch.toml"
    cfg.write_text('[models]\nembedding_backend = "torch"\n')
    proc = babelrag(kb_home, "--config", str(cfg), "search", question, "--kb", "moving", "-k", "1", "--json")
    assert json.loads(proc.stdout)[0]["id"] in close
    proc = babelrag(kb_home, "--config", str(cfg), "kb", "reembed", "--kb", "moving")
    assert "nothing to do" in proc.stdout
    proc = babelrag(kb_home, "kb", "reembed", "--kb", "moving", "--yes")  # back to the configured default
    assert "re-embedded" in proc.stdout
    proc = babelrag(kb_home, "search", question, "--kb", "moving", "-k", "1", "--json")
    assert json.loads(proc.stdout)[0]["id"] == before[0]["id"]  # the same backend again: the same top hit
    proc = babelrag(kb_home, "kb", "reembed", "--backend", "int4", "--kb", "moving", check=False)
    assert proc.returncode == 1 and "unknown embedding backend 'int4'" in proc.stderr


def test_a_search_with_the_default_embedder_imports_neither_torch_nor_transformers(kb_home: Path) -> None:
    """The int8 path is what makes a one-shot search start fast; an import slipping in undoes it."""
    script = (
        "import sys\n"
        "from babelrag.agents.cli.app import app\n"
        "try:\n"
        "    app(['--quiet', 'search', 'tea', '--kb', 'sample', '-k', '1'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('torch', 'transformers', 'sentence_transformers')\n"
        "print('HEAVY', sorted(m for m in heavy if m in sys.modules))\n"
    )
    env = {**os.environ, "BABELRAG_HOME": str(kb_home / "home"), "BABELRAG_CACHE_DIR": str(model_cache_dir())}
    command = [sys.executable, "-c", script]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout, proc.stdout[-500:]


def test_help_and_config_show_are_fast_and_clean(tmp_path: Path) -> None:
    assert "ingest" in babelrag(tmp_path, "--help").stdout
    shown = babelrag(tmp_path, "config", "show").stdout
    assert f'home = "{tmp_path / "home"}"' in shown
