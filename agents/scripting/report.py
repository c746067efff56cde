"""The Markdown report of a run: a section per step, readable without the JSONL beside it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from babelrag.agents.scripting.step_types import STEP_TYPES

if TYPE_CHECKING:
    from babelrag.agents.scripting.runner import RunReport


def render_markdown(report: RunReport) -> str:
    script = report.script
    out = [f"# {script.title or 'babelrag run: ' + script.path.name}", ""]
    kb = f" · knowledge base `{script.settings['kb']}`" if script.settings.get("kb") else ""
    out.append(
        f"Script `{script.name}`{kb} · {len(script.steps)} steps · "
        f"{len(report.records)} runs · {report.seconds:.1f} s"
    )
    out.append("")
    if report.stopped:
        out += [f"> **Stopped:** {report.stopped}", ""]
    elif report.failures:
        out += [f"> **{len(report.failures)} failed** (on_error: continue); see the steps below.", ""]
    for step in script.steps:
        records = [r for r in report.records if r["index"] == step.index]
        if not records:
            continue
        out += [f"## {step.index + 1}. {step.type}" + (f" `{step.id}`" if step.id else ""), ""]
        if step.foreach:
            runs = f"{len(records)} run" + ("s" if len(records) != 1 else "")
            out += [f"Once per item of `{step.foreach.source}` ({runs}).", ""]
        for record in records:
            if step.foreach:
                out += [f"### Item {record['item'] + 1} ({step.foreach.labels[record['item']]})", ""]
            if record.get("error"):
                out += [f"**Failed:** {record['error']}", ""]
                continue
            out += STEP_TYPES[step.type].section(record["input"] or {}, record["output"])
            out += [f"*{record['seconds']:.2f} s*", ""]
    return "\n".join(out).rstrip() + "\n"
