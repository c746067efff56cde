"""Concurrent writers and readers on one knowledge base, as real processes (issue 15, point 2).

Every process is the real CLI with the keyword fake embedder (``tests/fake_cli.py``); a slow
embedder (``BABELRAG_TEST_EMBED_DELAY``) keeps the first writer busy while the others arrive.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.process_helpers import REPO, cli_env, differences, kb_contents, run_cli, start_cli

pytestmark = pytest.mark.processes

PARAGRAPH = "Stone bridges over the river carry {w} carts, and the water below runs {w} and cold."


def write_folder(folder: Path, prefix: str, files: int, paragraphs: int = 6) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(files):
        text = "\n\n".join(PARAGRAPH.format(w=f"{prefix}{n}x{p}") for p in range(paragraphs))
        (folder / f"{prefix}{n}.txt").write_text(text, encoding="utf-8")
    return folder


def wait_for_lock_holder(home: Path, kb: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    owner = home / "locks" / f"kb-{kb}.owner"
    deadline = time.monotonic() + timeout
    while not owner.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the first writer never took the lock"
        time.sleep(0.05)


def finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    err = err or ""  # None when stderr went to a file
    assert "Traceback" not in err, err
    return proc.returncode, out, " ".join(err.split())


def test_a_second_writer_waits_with_a_message_and_nothing_is_lost(tmp_path: Path) -> None:
    a = write_folder(tmp_path / "a", "alpha", 4)
    b = write_folder(tmp_path / "b", "beta", 3)
    home = tmp_path / "home"
    release = tmp_path / "release"
    first = start_cli(home, "ingest", str(a), "--kb", "k", BABELRAG_TEST_EMBED_HOLD=str(release))
    wait_for_lock_holder(home, "k", first)
    second_err = tmp_path / "second.err"
    second = start_cli(home, "ingest", str(b), "--kb", "k", "--json", stderr=second_err)
    deadline = time.monotonic() + 120
    while "waiting for another process" not in second_err.read_text(encoding="utf-8"):
        assert second.poll() is None and time.monotonic() < deadline, second_err.read_text(encoding="utf-8")
        time.sleep(0.05)
    no_wait = run_cli(home, "remove", str(a), "--kb", "k", "--no-wait")
    release.touch()
    code1, _, _ = finish(first)
    code2, out2, _ = finish(second)
    err2 = " ".join(second_err.read_text(encoding="utf-8").split())
    assert code1 == 0 and code2 == 0
    assert "waiting for another process writing knowledge base 'k' (pid" in err2
    assert "ingest" in err2.split("(pid", 1)[1], "the message says what the other process is doing"
    assert len(json.loads(out2)["added"]) == 3
    assert no_wait.returncode == 1 and "is being written by another process (pid" in no_wait.stderr
    clean = tmp_path / "clean"
    assert run_cli(clean, "ingest", str(a), str(b), "--kb", "k").returncode == 0
    assert differences(kb_contents(home, "k"), kb_contents(clean, "k")) == []


def test_processes_creating_one_new_home_and_knowledge_base_at_once(tmp_path: Path) -> None:
    for round_ in range(2):
        home = tmp_path / f"home{round_}"
        folders = [write_folder(tmp_path / f"r{round_}f{n}", f"w{n}r", 1) for n in range(3)]
        procs = [start_cli(home, "ingest", str(f), "--kb", "shared") for f in folders]
        results = [finish(p) for p in procs]
        assert [code for code, _, _ in results] == [0, 0, 0], results
        assert len({m["source"] for _, m, _ in kb_contents(home, "shared").values()}) == 3


def test_writers_of_two_knowledge_bases_in_one_home_do_not_disturb_each_other(tmp_path: Path) -> None:
    home = tmp_path / "home"
    a = write_folder(tmp_path / "a", "alpha", 3)
    b = write_folder(tmp_path / "b", "beta", 3)
    procs = [start_cli(home, "ingest", str(f), "--kb", kb) for f, kb in ((a, "ka"), (b, "kb"))]
    assert [finish(p)[0] for p in procs] == [0, 0]
    for folder, kb in ((a, "ka"), (b, "kb")):
        clean = tmp_path / f"clean-{kb}"
        run_cli(clean, "ingest", str(folder), "--kb", kb)
        assert differences(kb_contents(home, kb), kb_contents(clean, kb)) == []


def test_readers_see_all_of_the_old_or_all_of_the_new_chunks_of_a_file_never_both(tmp_path: Path) -> None:
    home = tmp_path / "home"
    folder = tmp_path / "kb"
    folder.mkdir()
    doc = folder / "doc.txt"
    versions = [
        "\n\n".join(PARAGRAPH.format(w=f"old{p}") for p in range(12)),
        "\n\n".join(PARAGRAPH.format(w=f"new{p}" if p >= 9 else f"old{p}") for p in range(12)),
    ]
    texts = []
    for version in versions:  # each version's chunk texts, as a clean ingest makes them
        doc.write_text(version, encoding="utf-8")
        assert run_cli(home, "ingest", str(doc), "--kb", "k").returncode == 0
        texts.append(sorted({text for text, _, _ in kb_contents(home, "k").values()}))
    assert texts[0] != texts[1] and set(texts[0]) & set(texts[1]), "some chunks change, some are kept"
    versions_file = tmp_path / "versions.json"
    versions_file.write_text(json.dumps(texts), encoding="utf-8")
    source = str(doc.resolve())
    readers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.concurrency_reader",
                str(home),
                "k",
                source,
                "25",
                str(versions_file),
            ],
            cwd=REPO,
            env=cli_env(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    # the writer: the CLI's ingestion in this process (a CLI process per update would cost seconds
    # each), the same chunker and fake embedder as the CLI's, so each update writes what it would
    from chromadb.api.client import SharedSystemClient

    from babelrag.stores.chunking import Chunker
    from babelrag.stores.fakes import KeywordEmbeddings
    from babelrag.stores.ingest import Ingestor
    from babelrag.stores.knowledge_store import KnowledgeStore, open_chroma_client

    SharedSystemClient.clear_system_cache()
    embedder = KeywordEmbeddings(dimension=64, model_id="fake/babelrag/multilingual-e5-small")
    store = KnowledgeStore(client=open_chroma_client(home / "chroma"), name="k", embedder=embedder)
    writer = Ingestor(
        store=store,
        chunker=Chunker(embedder.count_tokens, max_tokens=48, overlap_tokens=8),
        detect_language=lambda text: "en",
        batch_size=4,
    )
    search = start_cli(home, "search", "stone bridges", "--kb", "k", "--json")  # a CLI reader too
    updates = 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        doc.write_text(versions[updates % 2], encoding="utf-8")  # the KB holds versions[1] now
        assert writer.ingest([doc]).updated == [source]
        updates += 1
    code, out, err = finish(search)
    assert code == 0 and json.loads(out), err
    seen = [json.loads(finish(r, timeout=120)[1]) for r in readers]
    assert updates >= 2 and all(s["reads"] > 10 and s["searches"] > 10 for s in seen)
    assert [s["half"] for s in seen] == [[], []], "a reader saw a half-written file"
    assert [s["both"] for s in seen] == [0, 0], "a reader saw chunks of both versions"
    print(
        f"\nreaders: {[s['reads'] for s in seen]} reads of the file and {[s['searches'] for s in seen]} "
        f"searches during {updates} updates: none saw half of the file or chunks of both versions"
    )
