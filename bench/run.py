"""babelrag performance benchmarks: ``python bench/run.py [--quick] [--out bench/results/perf.json]``.

Each section runs in a child process of its own, so its timings are isolated and its peak memory
(``ru_maxrss``) is its own. Every figure is printed next to a baseline measured in the same run;
the numbers are reported, never asserted. Writes the JSON to ``--out`` and the printed tables to
the same path with ``.md``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python bench/run.py` puts bench/, not the repo root, on sys.path
    sys.path.insert(0, str(REPO))

from bench.common import Table, current_rss_mb, fmt, machine_info, peak_rss_mb  # noqa: E402

SECTIONS = ("embedding", "ingestion", "search", "chroma_server", "engines", "ask", "cli", "service")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repetitions (debugging)")
    parser.add_argument("--out", type=Path, help="JSON output (default bench/results/perf[-quick].json)")
    parser.add_argument("--only", help=f"comma-separated sections out of {','.join(SECTIONS)}")
    parser.add_argument("--render", type=Path, metavar="JSON", help="print the tables of an earlier run")
    parser.add_argument("--child", choices=SECTIONS, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args.child, quick=args.quick, out=args.child_out)
    if args.render:
        print(render(json.loads(args.render.read_text(encoding="utf-8"))))
        return 0

    names = [n.strip() for n in args.only.split(",")] if args.only else list(SECTIONS)
    unknown = sorted(set(names) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    out = args.out or REPO / "bench" / "results" / ("perf-quick.json" if args.quick else "perf.json")
    report: dict[str, Any] = {"machine": machine_info(), "quick": args.quick, "sections": {}}
    started = time.perf_counter()
    for name in names:
        report["sections"][name] = run_section(name, quick=args.quick)
    report["total_wall_s"] = time.perf_counter() - started
    report["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]

    markdown = render(report)
    print(markdown)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(markdown + "\n", encoding="utf-8")
    print(f"\nwrote {out} and {out.with_suffix('.md')}", file=sys.stderr)
    return 0 if all("error" not in s for s in report["sections"].values()) else 1


def run_section(name: str, *, quick: bool) -> dict[str, Any]:
    """Run one section in a fresh interpreter and read back its JSON."""
    print(f"[bench] {name} …", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        result_file = Path(tmp) / "result.json"
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            name,
            "--child-out",
            str(result_file),
        ]
        env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "ANONYMIZED_TELEMETRY": "False"}
        started = time.perf_counter()
        proc = subprocess.run([*command, *(["--quick"] if quick else [])], cwd=REPO, env=env, check=False)
        wall = time.perf_counter() - started
        if proc.returncode != 0 or not result_file.exists():
            print(f"[bench] {name} failed (exit {proc.returncode})", file=sys.stderr)
            return {"error": f"exit status {proc.returncode}", "wall_s": wall}
        result = json.loads(result_file.read_text(encoding="utf-8"))
    print(f"[bench] {name} done in {wall:.0f} s", file=sys.stderr, flush=True)
    return {**result, "wall_s": wall}


def run_child(name: str, *, quick: bool, out: Path) -> int:
    """Inside the child: measure one section and its memory, write JSON to ``out``."""
    rss_start = current_rss_mb()
    load_start = os.getloadavg()
    module = importlib.import_module(f"bench.{name}")
    result = module.run(quick)
    result["memory"] = {
        "rss_start_mb": rss_start,
        "peak_rss_mb": peak_rss_mb(),
        "peak_delta_mb": peak_rss_mb() - rss_start,
    }
    result["loadavg"] = {"start": load_start, "end": os.getloadavg()}
    out.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    return 0


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    lines = [
        f"## babelrag performance ({'quick' if report['quick'] else 'full'} run, {m['date']})",
        "",
        f"{m['cpu_model']} ({', '.join(m['cpu_flags'])}), {m['cores']} cores, {m['ram_gb']} GB RAM; "
        f"Python {m['python']}; {versions}. Load average at start {m['loadavg']}, at end "
        f"{m['loadavg_end']}. Whole run {report['total_wall_s'] / 60:.1f} min.",
        "",
    ]
    if report.get("note"):  # sections merged from later runs say so
        lines += [report["note"], ""]
    for name, result in report["sections"].items():
        module = importlib.import_module(f"bench.{name}")
        if "error" in result:
            lines += [f"### {module.TITLE}", "", f"failed: {result['error']}", ""]
            continue
        lines += [module.table(result).to_markdown(), ""]
    lines.append(memory_table(report["sections"]).to_markdown())
    return "\n".join(lines)


def memory_table(sections: dict[str, dict[str, Any]]) -> Table:
    rows = []
    for name, result in sections.items():
        mem = result.get("memory")
        if mem:
            load = result.get("loadavg", {})
            rows.append(
                [
                    name,
                    fmt(mem["rss_start_mb"], 0),
                    fmt(mem["peak_rss_mb"], 0),
                    fmt(mem["peak_delta_mb"], 0),
                    fmt(result["wall_s"], 0),
                    " → ".join(fmt(load[key][0], 1) for key in ("start", "end") if key in load) or "—",
                ]
            )
    return Table(
        "6. Peak memory and wall time per section (one child process each)",
        ["section", "RSS at start MB", "peak RSS MB", "peak - start MB", "wall s", "load avg (1 min)"],
        rows,
        [
            "Peak = ru_maxrss of the section's own process (torch allocations included); start = the bare "
            "interpreter before the section imported anything heavy. engines and ask load each generator "
            "in a worker process of its own: their peaks are in sections 4 and 5.",
            "Load average at the section's start and end: a section alone keeps it near 2 (its own "
            "threads); higher means other processes competed for the cores, and small torch ops in "
            "the main thread slow down sharply then (see bench/README.md).",
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
