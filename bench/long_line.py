"""A text file of one 50 MB line (issue 15): reading and chunking it, its memory, and the size limit.

Before the fix such a file took ~6 GB and ~11 s per MB to chunk, with nothing shown. The file is
built from this repository's own prose (README and the sample knowledge base), each copy of it
numbered every 40 words so that no two chunks are equal, joined without a newline.

1. ``babelrag ingest FILE`` with ``ingest.max_file_mb`` below the file's size: the clear skip
   (exit status, message, time), nothing written;
2. planning it as ``ingest`` does (read, split into chunks with the default embedder's tokenizer,
   chunk ids and metadata), for the whole file and for a tenth of it in fresh processes: seconds
   per MB and peak memory (flat = bounded). Embedding 50 MB (~12 million tokens) is not run: that is
   hours of encoder time on 2 cores, the same per chunk as for any other file.

    PYTHONPATH=. python -m bench.long_line --mb 50 --out bench/results/long_line
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import machine_info

REPO = Path(__file__).resolve().parent.parent


def build(path: Path, megabytes: float) -> int:
    """One line of ``megabytes`` MB from the repository's prose; returns its size in bytes."""
    texts = [REPO / "README.md", *sorted((REPO / "examples" / "sample_kb").rglob("*.md"))]
    words = " ".join(p.read_text(encoding="utf-8") for p in texts).split()
    target, size, copy = int(megabytes * 1_000_000), 0, 0
    with path.open("w", encoding="utf-8") as fh:
        while size < target:
            part = " ".join(w if i % 40 else f"{w} ({copy}.{i // 40})" for i, w in enumerate(words))
            part = part[: target - size] + " "
            fh.write(part)
            size += len(part.encode("utf-8"))
            copy += 1
    return path.stat().st_size


PLAN = """
import json, resource, sys, time
from pathlib import Path
from bench.common import bench_settings
from babelrag.agents.runtime import Runtime
from babelrag.stores.ingest import IngestReport
from babelrag.stores.progress import NullProgress
path, home = Path(sys.argv[1]), Path(sys.argv[2])
rt = Runtime(bench_settings(home))
ingestor = rt.ingestor()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
started = time.perf_counter()
plan = ingestor._plan(path, IngestReport(), NullProgress())
seconds = time.perf_counter() - started
print(json.dumps({"entries": len(plan.ids), "seconds": seconds, "peak_rss_mb_before": before,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def plan(path: Path, home: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PLAN, str(path), str(home)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    mb = path.stat().st_size / 1e6
    return {"mb": round(mb, 2), **result, "seconds_per_mb": result["seconds"] / mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    info = machine_info()
    print(f"machine: {info['cpu_model']}, {info['cores']} cores, flags {' '.join(info['cpu_flags'])}")
    with tempfile.TemporaryDirectory() as tmp:
        big, small, home = Path(tmp) / "one-line.txt", Path(tmp) / "one-line-tenth.txt", Path(tmp) / "home"
        size = build(big, args.mb)
        build(small, args.mb / 10)
        lines = big.read_bytes().count(b"\n") + 1
        print(f"built {size / 1e6:.1f} MB on {lines} line(s)")

        limit = max(1, int(args.mb) - 10)
        env = {**os.environ, "BABELRAG_HOME": str(home), "BABELRAG_INGEST__MAX_FILE_MB": str(limit)}
        started = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                "from babelrag.agents.cli import main; main()",
                "ingest",
                str(big),
                "--kb",
                "long",
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
        )
        skip = {
            "limit_mb": limit,
            "exit_status": done.returncode,
            "seconds": round(time.perf_counter() - started, 2),
            "message": " ".join((done.stdout + done.stderr).split())[-400:],
            "traceback": "Traceback" in done.stderr,
        }
        print(
            f"ingest with max_file_mb = {limit}: exit {skip['exit_status']} in {skip['seconds']} s: "
            f"{skip['message']}"
        )

        tenth, whole = plan(small, home), plan(big, home)
        for name, r in (("a tenth", tenth), ("the whole file", whole)):
            print(
                f"planning {name} ({r['mb']:.1f} MB): {r['entries']} entries in {r['seconds']:.0f} s "
                f"({r['seconds_per_mb']:.2f} s/MB), peak RSS {r['peak_rss_mb']:.0f} MB "
                f"({r['peak_rss_mb_before']:.0f} MB before reading it)"
            )
    result = {
        "machine": info,
        "size_bytes": size,
        "skip": skip,
        "plan_tenth": tenth,
        "plan_whole": whole,
        "baseline_before_fix": {"peak_rss_gb": 6, "seconds_per_mb": 11},
    }
    if args.out:
        args.out.with_suffix(".json").write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
