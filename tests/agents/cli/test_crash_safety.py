"""Crash safety: ``babelrag ingest`` and ``babelrag kb reembed`` killed with SIGKILL at every point
where they read, embed, write, update or delete (and at random moments), then run again, end in
exactly the knowledge base a run without a crash makes (issue 15, point 1).

Each crash point is a place the test-only hooks of ``tests/fake_cli.py`` can kill the process:
``POINT:N`` is the N-th time it gets there. For every point the harness raises N until the run
finishes without reaching it, so every point of the run is tried. After each crash the same
command is run again and the knowledge base compared with a clean one: the same chunk ids,
texts, metadata and vectors (within 1e-5), nothing missing, nothing extra, and ``kb check`` finds
it sound. Three scenarios: a first ingest, an update (one file changed so some chunks are kept,
some new, some stale; one file new), and ``kb reembed`` to another (fake) embedder.

The full run takes half an hour (two CLI processes per point): it is marked ``slow`` and runs
only with ``BABELRAG_CRASH_FULL=1``. The ``processes`` test tries a sample of ten points. With
``BABELRAG_CRASH_REPORT=FILE`` the full run writes its figures there (README "Reliability").
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fake_cli import CRASH_POINTS
from tests.process_helpers import differences, kb_contents, run_cli, start_cli

WRITE_BATCH = "3"
# read at import: the suite's autouse fixture clears BABELRAG_* variables before each test
REPORT = os.environ.get("BABELRAG_CRASH_REPORT")
RANDOM_KILLS = int(os.environ.get("BABELRAG_CRASH_RANDOM", "10"))
INGEST_POINTS = ("read", "embed", "upsert", "upsert-done", "update", "delete", "delete-done", "batch")
REEMBED_POINTS = ("embed", "upsert", "upsert-done", "rename", "drop")
assert set(INGEST_POINTS) | set(REEMBED_POINTS) <= set(CRASH_POINTS)

SENTENCES = [
    "Green tea is steeped at {n}0 degrees for two minutes.",
    "The old stone bridge {n} carries carts across the river.",
    "Bicycle chains need oil every {n}00 kilometres.",
    "Der Dom hat {n} Türme aus grauem Sandstein.",
    "茶叶需要用{n}十度的水冲泡。",
]


def version(n_files: int, changed: int | None = None) -> dict[str, str]:
    """File name -> content; ``changed`` rewrites the second half of that file's paragraphs."""
    files = {}
    for f in range(n_files):
        paragraphs = [" ".join(s.format(n=f * 7 + p) for s in SENTENCES[p % 3 : p % 3 + 3]) for p in range(8)]
        if f == changed:
            paragraphs[4:] = [p.replace("the", "a").upper() for p in paragraphs[4:]]
        files[f"doc{f}.md" if f % 2 else f"doc{f}.txt"] = "\n\n".join(paragraphs)
    return files


V1 = version(4)
V2 = {**version(4, changed=1), **{"doc4.txt": version(5)["doc4.txt"]}}


def put(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


@dataclass
class Tally:
    tried: Counter[str] = field(default_factory=Counter)  # crash points where the process was killed
    survived: Counter[str] = field(default_factory=Counter)  # ... and the re-run restored a clean KB
    random_kills: int = 0
    random_survived: int = 0


@dataclass
class Scenario:
    name: str
    args: tuple[str, ...]  # the command
    start: Path | None  # a home to copy before each run (None: a fresh one)
    files: dict[str, str]
    want: dict  # the clean result
    points: tuple[str, ...]


class Harness:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.docs = tmp / "docs"  # one path for every run: chunk ids depend on it
        self.tally = Tally()
        self.runs = 0

    def env(self, **extra: str) -> dict[str, str]:
        return {"BABELRAG_TEST_WRITE_BATCH": WRITE_BATCH, **extra}

    def fresh_home(self, scenario: Scenario) -> Path:
        self.runs += 1
        home = self.tmp / f"run{self.runs}"
        if scenario.start is not None:
            shutil.copytree(scenario.start, home)
        put(self.docs, scenario.files)
        return home

    def clean(self, files_sequence: list[dict[str, str]], *extra: tuple[str, ...]) -> Path:
        self.runs += 1
        home = self.tmp / f"clean{self.runs}"
        for files in files_sequence:
            put(self.docs, files)
            result = run_cli(home, "ingest", str(self.docs), "--kb", "k", **self.env())
            assert result.returncode == 0, result.stderr
        for args in extra:
            result = run_cli(home, *args, **self.env())
            assert result.returncode == 0, result.stderr
        return home

    def crash_and_recover(self, scenario: Scenario, point: str, n: int) -> bool:
        """Kill at ``point:n``, re-run, compare; False when the run never got there (done with it)."""
        home = self.fresh_home(scenario)
        crashed = run_cli(home, *scenario.args, **self.env(BABELRAG_TEST_CRASH_AT=f"{point}:{n}"))
        if crashed.returncode == 0:
            return False
        assert crashed.returncode == -signal.SIGKILL, (point, n, crashed.stderr)
        self.tally.tried[f"{scenario.name} {point}"] += 1
        self.recover_and_compare(scenario, home, f"{point}:{n}")
        self.tally.survived[f"{scenario.name} {point}"] += 1
        return True

    def recover_and_compare(self, scenario: Scenario, home: Path, where: str) -> None:
        again = run_cli(home, *scenario.args, **self.env())
        assert again.returncode == 0 and "Traceback" not in again.stderr, (where, again.stderr)
        problems = differences(kb_contents(home, "k"), scenario.want)
        assert problems == [], f"{scenario.name}, killed at {where}: {problems[:5]}"
        report = check_kb(home)
        assert report.ok, (where, report.to_dict())

    def random_kill(self, scenario: Scenario, rng: random.Random, duration: float) -> None:
        home = self.fresh_home(scenario)
        proc = start_cli(home, *scenario.args, **self.env())
        time.sleep(rng.uniform(0, duration))
        killed = proc.poll() is None
        if killed:
            os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
        self.tally.random_kills += killed
        self.recover_and_compare(scenario, home, "a random moment")
        self.tally.random_survived += killed


def scenarios(h: Harness) -> list[Scenario]:
    v1 = h.clean([V1])
    v2 = h.clean([V1, V2])
    fresh_v2 = h.clean([V2])
    assert differences(kb_contents(v2, "k"), kb_contents(fresh_v2, "k")) == [], (
        "an update equals a fresh ingest"
    )
    reembed = ("kb", "reembed", "--kb", "k", "--embedder", "other", "--yes")
    moved = h.clean([V1, V2], reembed)
    ingest = ("ingest", str(h.docs), "--kb", "k")
    return [
        Scenario("first ingest", ingest, None, V1, kb_contents(v1, "k"), INGEST_POINTS),
        Scenario("update", ingest, v1, V2, kb_contents(v2, "k"), INGEST_POINTS),
        Scenario("kb reembed", reembed, v2, V2, kb_contents(moved, "k"), REEMBED_POINTS),
    ]


def check_kb(home: Path):
    """``kb check`` of the knowledge base, in this process (a CLI process per check costs seconds)."""
    from chromadb.api.client import SharedSystemClient

    from babelrag.stores.integrity import check
    from babelrag.stores.knowledge_store import KnowledgeStore, open_chroma_client

    SharedSystemClient.clear_system_cache()
    store = KnowledgeStore(client=open_chroma_client(home / "chroma"), name="k", embedder=None, create=False)
    return check(store, chroma_dir=home / "chroma")


def run_harness(tmp: Path, *, random_kills: int) -> Tally:
    """Every occurrence of every crash point of every scenario, then kills at random moments."""
    h = Harness(tmp)
    all_scenarios = scenarios(h)
    for scenario in all_scenarios:
        for point in scenario.points:
            n = 1
            while h.crash_and_recover(scenario, point, n):
                n += 1
        assert any(k.startswith(scenario.name) for k in h.tally.tried), (
            f"{scenario.name}: no point was reached"
        )
    rng = random.Random(15)
    for i in range(random_kills):
        h.random_kill(all_scenarios[i % 2], rng, duration=6.0)
    return h.tally


SAMPLED = [
    ("first ingest", "upsert", 2),
    ("first ingest", "batch", 2),  # between two write batches of the first file
    ("first ingest", "delete-done", 1),
    ("update", "upsert-done", 1),
    ("update", "update", 1),
    ("update", "delete", 2),
    ("kb reembed", "upsert", 2),
    ("kb reembed", "rename", 1),
    ("kb reembed", "rename", 2),
    ("kb reembed", "drop", 1),
]


@pytest.mark.processes
def test_sampled_crash_points_leave_a_knowledge_base_equal_to_a_clean_one(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    by_name = {s.name: s for s in scenarios(h)}
    for name, point, n in SAMPLED:
        assert h.crash_and_recover(by_name[name], point, n), f"{name} never reached {point}:{n}"
    assert h.tally.tried == h.tally.survived and sum(h.tally.tried.values()) == len(SAMPLED)


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.skipif(
    not os.environ.get("BABELRAG_CRASH_FULL"),
    reason="the full crash harness takes half an hour; BABELRAG_CRASH_FULL=1 runs it",
)
def test_every_crash_point_leaves_a_knowledge_base_equal_to_a_clean_one(tmp_path: Path) -> None:
    started = time.perf_counter()
    tally = run_harness(tmp_path, random_kills=RANDOM_KILLS)
    assert tally.tried == tally.survived
    summary = {
        "crash_points_tried": sum(tally.tried.values()),
        "crash_points_survived": sum(tally.survived.values()),
        "by_scenario_and_point": dict(sorted(tally.tried.items())),
        "random_kills": tally.random_kills,
        "random_kills_survived": tally.random_survived,
        "seconds": round(time.perf_counter() - started),
    }
    print("\n" + json.dumps(summary, indent=2))
    if REPORT:
        Path(REPORT).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
