"""Helpers shared by the benchmark sections: timing, memory, machine info, settings, texts, tables.

Nothing heavy is imported at module level: the parent process only renders tables, and each
section imports torch and friends in its own child process.
"""

from __future__ import annotations

import os
import platform
import re
import resource
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from babelrag.agents.config import Settings
    from babelrag.stores.chunking import Chunker

REPO = Path(__file__).resolve().parents[1]
SAMPLE_KB = REPO / "examples" / "sample_kb"
SAMPLE_QUESTIONS = REPO / "examples" / "sample_kb_questions.md"
PACKAGES = (
    "torch",
    "transformers",
    "llama_cpp_python",
    "gguf",
    "sentence-transformers",
    "chromadb",
    "langchain-chroma",
    "numpy",
)
#: ``NAME=PATH,...``: a model file or folder to use for a generator not (yet) in the installed pack.
MODEL_PATHS_ENV = "BABELRAG_BENCH_MODELS"


# -- timing ---------------------------------------------------------------------------------
def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds ``fn`` took, and what it returned."""
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation, as numpy's default."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100
    low, high = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/mean in milliseconds of a list of latencies in seconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "p50_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
        "mean_ms": statistics.fmean(ms),
        "n": len(ms),
    }


# -- memory and machine ---------------------------------------------------------------------
def current_rss_mb() -> float:
    """Resident set size of this process now (Linux /proc; 0 where unavailable)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine_info() -> dict[str, Any]:
    """What the figures were measured on; versions come from metadata, so nothing is imported."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    cpuinfo = _read("/proc/cpuinfo")
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    flags = re.search(r"^flags\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "avx512_vnni")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_model": model.group(1).strip() if model else platform.processor() or platform.machine(),
        "cpu_flags": [f for f in wanted if flags and f in flags.group(1).split()],
        "cores": os.cpu_count(),
        "ram_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "threading_env": {
            k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS")
        },
        "versions": versions,
    }


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


# -- babelrag inputs ------------------------------------------------------------------------
def bench_settings(home: Path, **overrides: Any) -> Settings:
    """Settings for a throwaway data directory, with the installed model pack; embedded Chroma
    there even where ``BABELRAG_STORE__CHROMA_URL`` names a server (the bench writes scratch KBs)."""
    from babelrag.agents.config import StoreSettings, default_cache_dir, load_settings

    settings = load_settings(home=home, cache_dir=default_cache_dir(), **overrides)
    return settings.model_copy(update={"store": StoreSettings()})


def sample_chunks(chunker: Chunker) -> list[str]:
    """The sample knowledge base cut by babelrag's chunker, in file order."""
    from babelrag.stores.loaders import FileLoader, iter_source_files

    return [
        chunk
        for path in iter_source_files([SAMPLE_KB])
        for doc in FileLoader(path).load()
        for chunk in chunker.split_text(doc.page_content)
    ]


def passages(chunks: Sequence[str], n: int, chars: int = 1000) -> list[str]:
    """``n`` passages of about ``chars`` characters: consecutive chunks joined, repeating the KB."""
    out: list[str] = []
    buffer = ""
    i = 0
    while len(out) < n:
        buffer = f"{buffer} {chunks[i % len(chunks)].strip()}".strip()
        i += 1
        if len(buffer) >= chars:
            out.append(buffer[:chars])
            buffer = ""
    return out


def sample_questions(numbers: Iterable[int]) -> list[dict[str, str]]:
    """Rows of the sample question table: number, language and question."""
    rows = {}
    for line in SAMPLE_QUESTIONS.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].isdigit():
            rows[int(cells[0])] = {"number": cells[0], "lang": cells[1], "question": cells[2].strip("`")}
    return [rows[n] for n in numbers]


@dataclass(frozen=True)
class Generator:
    """A generator the engine sections compare: its engine, its model and the model's size."""

    engine: str  # "transformers" | "llama.cpp", as generation.engine names them
    model: str  # a babelrag/ pack name
    size: str  # engines are compared at the same size

    @property
    def label(self) -> str:
        return f"{self.engine} {self.size}"


GENERATORS = (
    Generator("transformers", "babelrag/qwen2.5-coder-0.5b-instruct", "0.5B"),
    Generator("llama.cpp", "babelrag/qwen2.5-coder-0.5b-instruct-gguf", "0.5B"),
    Generator("llama.cpp", "babelrag/qwen2.5-coder-1.5b-instruct-gguf", "1.5B"),
)


def available_generators() -> tuple[list[tuple[Generator, str]], list[str]]:
    """(generator, model location) for each generator that can run, and a note for each that can't.

    A pack model counts when it is installed; ``BABELRAG_BENCH_MODELS`` (``NAME=PATH,...``) names a
    file or folder to use instead, for a model the pack does not build yet.
    """
    from babelrag.agents.config import default_cache_dir
    from babelrag.agents.modelpack.registry import ModelPack
    from babelrag.stores.errors import BabelragError

    paths = dict(item.split("=", 1) for item in os.environ.get(MODEL_PATHS_ENV, "").split(",") if "=" in item)
    pack = ModelPack(default_cache_dir())
    found, skipped = [], []
    for generator in GENERATORS:
        short = generator.model.removeprefix("babelrag/")
        given = paths.get(generator.model) or paths.get(short)
        if given:
            if Path(given).expanduser().exists():
                found.append((generator, str(Path(given).expanduser())))
            else:
                skipped.append(
                    f"{generator.label} skipped: {MODEL_PATHS_ENV} names {given}, which does not exist"
                )
            continue
        try:
            status = pack.status(generator.model)
        except BabelragError as exc:
            skipped.append(f"{generator.label} skipped: {exc.message}")
            continue
        if status.installed:
            found.append((generator, generator.model))
        else:
            skipped.append(
                f"{generator.label} skipped: {generator.model} is not installed "
                f"(`{status.model.install_command}`)"
            )
    return found, skipped


# -- tables ---------------------------------------------------------------------------------
@dataclass
class Table:
    """One section's figures, rendered as a Markdown table with notes below it."""

    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_markdown(self) -> str:
        widths = [max(len(str(r[i])) for r in [self.headers, *self.rows]) for i in range(len(self.headers))]

        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

        parts = [
            f"### {self.title}",
            "",
            line(self.headers),
            "|" + "|".join("-" * (w + 2) for w in widths) + "|",
        ]
        parts += [line(r) for r in self.rows]
        if self.notes:
            parts += ["", *(f"- {n}" for n in self.notes)]
        return "\n".join(parts)


def fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def ratio(ours: float | None, baseline: float | None, digits: int = 2) -> str:
    """``ours / baseline`` as ``1.23×`` (for throughput, above 1 means babelrag is faster)."""
    if not ours or not baseline:
        return "—"
    return f"{ours / baseline:.{digits}f}×"
