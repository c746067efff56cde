"""Wikidata dump reading measured: throughput, memory, and what an updated dump costs.

No dump can be downloaded here, so the dump is synthetic but in the real format: ``--entities``
people (P31 Q5) with labels, descriptions and aliases in four languages, five statements each
(items, a date, a quantity, an external id) pointing at a pool of shared occupation items and the
properties, all in one gzip JSON array as ``latest-all.json.gz`` is laid out.

1. reading alone (two passes, rendering every selected entity's documents): entities/s, MB/s of
   compressed input, peak memory, for the full dump and a tenth of it (flat memory = bounded);
2. ``--ingest`` entities through the real default embedder into a fresh knowledge base, then
   the same dump with ``--changed`` entities edited: only their documents are embedded again.

    BABELRAG_HOME=/tmp/kg-home PYTHONPATH=. python -m bench.kg_dumps --entities 20000 --ingest 150 \\
        --out bench/results/kg_dumps
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LANGS = {"en": "writer", "de": "Schriftsteller", "fr": "écrivain", "zh": "作家"}
PROPS = {
    "P31": {"en": "instance of", "de": "ist ein(e)", "fr": "nature de l'élément", "zh": "隶属于"},
    "P106": {"en": "occupation", "de": "Tätigkeit", "fr": "occupation", "zh": "职业"},
    "P569": {"en": "date of birth", "de": "Geburtsdatum", "fr": "date de naissance", "zh": "出生日期"},
    "P2048": {"en": "height", "de": "Höhe", "fr": "taille", "zh": "身高"},
    "P214": {"en": "VIAF ID"},
}


def _texts(by_lang: dict[str, str]) -> dict[str, dict[str, str]]:
    return {lang: {"language": lang, "value": value} for lang, value in by_lang.items()}


def _snak(prop: str, datatype: str, value: Any, kind: str) -> dict[str, Any]:
    return {
        "mainsnak": {"snaktype": "value", "property": prop, "datatype": datatype,
                     "datavalue": {"value": value, "type": kind}},
        "type": "statement", "rank": "normal",
    }  # fmt: skip


def person(n: int, rng: random.Random, version: int = 0) -> dict[str, Any]:
    qid = f"Q{1_000_000 + n}"
    name = f"Person {n}"
    job = f"Q{500 + rng.randrange(200)}"
    return {
        "type": "item", "id": qid,
        "labels": _texts({lang: name for lang in LANGS}),
        "descriptions": _texts({"en": f"writer number {n}{' (revised)' * version}",
                                "de": f"Schriftsteller Nr. {n}", "fr": f"écrivain numéro {n}",
                                "zh": f"第{n}号作家"}),
        "aliases": {"en": [{"language": "en", "value": f"P. {n}"}]},
        "claims": {
            "P31": [_snak("P31", "wikibase-item", {"entity-type": "item", "id": "Q5"}, "wikibase-entityid")],
            "P106": [_snak("P106", "wikibase-item", {"entity-type": "item", "id": job}, "wikibase-entityid")],
            "P569": [_snak("P569", "time", {"time": f"+{1900 + n % 100}-01-0{1 + n % 9}T00:00:00Z",
                                            "precision": 11}, "time")],
            "P2048": [_snak("P2048", "quantity", {"amount": "+1.80", "unit": "http://www.wikidata.org/entity/Q11573"},
                            "quantity")],
            "P214": [_snak("P214", "external-id", str(10_000 + n), "string")],
        },
        "sitelinks": {"enwiki": {"site": "enwiki", "title": name, "badges": []}},
    }  # fmt: skip


def write_dump(path: Path, entities: int, changed: int = 0) -> None:
    rng = random.Random(0)
    lines = [
        json.dumps(person(n, rng, version=int(n < changed)), ensure_ascii=False) for n in range(entities)
    ]
    lines += [
        json.dumps(
            {"type": "item", "id": f"Q{500 + j}", "labels": _texts({k: f"{v} {j}" for k, v in LANGS.items()})}
        )
        for j in range(200)
    ]
    lines.append(
        json.dumps(
            {
                "type": "item",
                "id": "Q5",
                "labels": _texts({"en": "human", "de": "Mensch", "fr": "être humain", "zh": "人类"}),
            }
        )
    )
    lines.append(
        json.dumps({"type": "item", "id": "Q11573", "labels": _texts({"en": "metre", "de": "Meter"})})
    )
    lines += [
        json.dumps({"type": "property", "id": p, "labels": _texts(labels)}) for p, labels in PROPS.items()
    ]
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write("[\n" + ",\n".join(lines) + "\n]\n")


def read_only(path: str) -> None:
    """Child process: read and render the dump, print one JSON line (a fresh process per size,
    so its peak memory is its own)."""
    from babelrag.stores.wikidata import WikidataFilter, WikidataReader

    started = time.perf_counter()
    reader = WikidataReader(Path(path), keep=WikidataFilter.parse(["P31:Q5"]))
    groups = documents = chars = 0
    for group in reader.groups(lambda n: None):
        groups += 1
        documents += len(group.documents)
        chars += sum(len(d.page_content) for d in group.documents)
    seconds = time.perf_counter() - started
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forking parent
    peak = round(int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text())[1]) / 1024)
    print(json.dumps({
        "entities": groups, "documents": documents, "chars": chars, "seconds": round(seconds, 2),
        "entities_per_s": round(groups / seconds), "compressed_mb": round(Path(path).stat().st_size / 1e6, 2),
        "uncompressed_mb": round(_unpacked(path) / 1e6, 2),
        "uncompressed_mb_per_s_per_pass": round(_unpacked(path) / 1e6 / seconds * reader.passes(), 2),
        "peak_rss_mb": peak,
    }))  # fmt: skip


def _unpacked(path: str) -> int:
    with gzip.open(path, "rb") as f:
        return sum(len(block) for block in iter(lambda: f.read(1 << 20), b""))


def ingest(tmp: Path, entities: int, changed: int) -> dict[str, Any]:
    from babelrag.agents.config import load_settings
    from babelrag.agents.runtime import Runtime

    rt = Runtime(load_settings(home=tmp / "home", kb="kgbench"))
    rt.embedder.embed_documents(["warm-up"])
    path = tmp / "latest-all.json.gz"
    write_dump(path, entities)
    out: dict[str, Any] = {"entities": entities}
    for name, edit in (("first", 0), ("unchanged", 0), ("updated", changed)):
        if edit:
            write_dump(path, entities, changed=edit)
        started = time.perf_counter()
        report = rt.ingestor().ingest([path])
        out[name] = {
            "seconds": round(time.perf_counter() - started, 1),
            "added": len(report.added), "updated": len(report.updated), "unchanged": len(report.unchanged),
            "chunks_embedded": report.chunks_embedded, "chunks_kept": report.chunks_kept,
        }  # fmt: skip
    out["chunks_stored"] = rt.store().count()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entities", type=int, default=20000)
    parser.add_argument("--ingest", type=int, default=150)
    parser.add_argument("--changed", type=int, default=10)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--read-only", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read_only:
        read_only(args.read_only)
        return
    result: dict[str, Any] = {"reading": []}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for n in (args.entities // 10, args.entities):
            path = tmp / f"dump-{n}.json.gz"
            write_dump(path, n)
            child = [sys.executable, "-m", "bench.kg_dumps", "--read-only", str(path)]
            line = subprocess.run(child, check=True, capture_output=True, text=True).stdout.strip()
            result["reading"].append(json.loads(line.splitlines()[-1]))
        if args.ingest:
            result["ingest"] = ingest(tmp, args.ingest, args.changed)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(text + "\n")


if __name__ == "__main__":
    main()
