"""Running scripts: values passed between steps, batches, settings merged, JSONL and Markdown
written, a failing step stopping the run (or not). A fake backend records every call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from babelrag.agents.scripting import ScriptError, load_script, run_script
from babelrag.stores.errors import BabelragError, StoreError
from tests.agents.scripting.helpers import EXAMPLE_SCRIPTS, FakeBackend, write_script

pytestmark = pytest.mark.unit


class TestExamples:
    @pytest.mark.parametrize("path", EXAMPLE_SCRIPTS, ids=lambda p: p.name)
    def test_validates(self, path: Path) -> None:
        script = load_script(path)
        assert script.steps and script.jsonl and script.markdown

    def test_there_are_three(self) -> None:
        assert [p.name for p in EXAMPLE_SCRIPTS] == [
            "batch_questions.yaml",
            "cross_lingual_qa.yaml",
            "write_and_chat.yaml",
        ]

    @pytest.mark.parametrize("name", [p.name for p in EXAMPLE_SCRIPTS])
    def test_runs_with_a_fake_backend(self, examples: Path, name: str) -> None:
        backend = FakeBackend()
        report = run_script(load_script(examples / name), backend)
        assert report.ok
        lines = report.script.jsonl.read_text(encoding="utf-8").splitlines()
        assert [json.loads(line) for line in lines] == json.loads(json.dumps(report.records, default=str))
        assert report.script.markdown.read_text(encoding="utf-8").startswith("# ")
        assert backend.of("ingest")[0]["paths"] == [(examples.parent / "sample_kb").resolve()]

    def test_cross_lingual_qa_translates_the_chinese_answer(self, examples: Path) -> None:
        backend = FakeBackend()
        run_script(load_script(examples / "cross_lingual_qa.yaml"), backend)
        tea = backend.of("ask")[0]["question"]
        assert backend.of("translate") == [
            {
                "text": f"A({tea})",
                "source": "zh",
                "target": "de",
                "settings": backend.of("translate")[0]["settings"],
            }
        ]
        assert backend.of("search")[0]["query"] == "green tea water temperature"
        assert backend.of("ask")[1]["settings"]["retrieval"] == {"lexical": True}
        assert "retrieval" not in backend.of("ask")[0]["settings"]

    def test_batch_asks_each_question_in_its_language(self, examples: Path) -> None:
        backend = FakeBackend()
        report = run_script(load_script(examples / "batch_questions.yaml"), backend)
        assert [a["lang"] for a in backend.of("ask")] == ["zh", "de", "en"]
        assert "自行车内胎" in backend.of("ask")[0]["question"]
        assert backend.of("translate")[0]["text"] == report.results["answers"][0]["answer"]

    def test_write_and_chat_writes_the_expanded_draft(self, examples: Path) -> None:
        backend = FakeBackend()
        report = run_script(load_script(examples / "write_and_chat.yaml"), backend)
        write = backend.of("write")[0]
        assert "绿茶" in write["draft"] and write["factor"] == 1.5 and write["lang"] == "zh"
        assert (examples / "out" / "green_tea_zh.md").read_text(encoding="utf-8").startswith("# Expanded")
        assert backend.of("chat")[0]["session"] is None and len(backend.of("chat")[0]["turns"]) == 2
        assert report.results["talk"]["session"] == "s-1"


class TestRunner:
    def test_values_pass_between_steps(self, tmp_path: Path) -> None:
        text = """\
version: 1
vars: {topic: green tea, k: 2}
steps:
  - id: q
    ask: {question: 泡绿茶用多少度的水？, lang: Chinese}
  - id: t
    translate: {text: "${q.answer}", to: de, from: zh}
  - search: {query: "${vars.topic} (${q.sources.0.title}) costs $${price}", k: "${vars.k}", where: {line: 1}}
  - ask: {question: "${t.text}"}
"""
        backend = FakeBackend()
        report = run_script(load_script(write_script(tmp_path, text)), backend)
        assert backend.of("ask")[0]["lang"] == "zh"  # names become ISO codes
        assert backend.of("translate")[0]["text"] == "A(泡绿茶用多少度的水？)"
        search = backend.of("search")[0]
        assert search["query"] == "green tea (Brewing Green Tea) costs ${price}"
        assert search["k"] == 2 and search["where"] == {"line": 1}  # a whole reference keeps its type
        assert backend.of("ask")[1]["question"] == "[de] A(泡绿茶用多少度的水？)"
        assert report.results["t"] == {"text": "[de] A(泡绿茶用多少度的水？)", "from": "zh", "to": "de"}

    def test_foreach_over_jsonl(self, tmp_path: Path) -> None:
        lines = "\n".join(
            json.dumps({"question": q, "lang": lang}) for q, lang in [("a", "de"), ("b", "en"), ("c", "zh")]
        )
        text = "version: 1\noutputs: {jsonl: out/r.jsonl}\nsteps:\n  - id: batch\n    foreach: qs.jsonl\n"
        text += "    ask: {question: '${item.question}?', lang: '${item.lang}'}\n"
        text += "  - translate: {text: '${batch.1.answer}', to: fr}\n"
        backend = FakeBackend()
        report = run_script(
            load_script(write_script(tmp_path, text, **{"qs.jsonl": lines + "\n\n"})), backend
        )
        assert [(a["question"], a["lang"]) for a in backend.of("ask")] == [
            ("a?", "de"),
            ("b?", "en"),
            ("c?", "zh"),
        ]
        assert backend.of("translate")[0]["text"] == "A(b?)"
        assert [r["answer"] for r in report.results["batch"]] == ["A(a?)", "A(b?)", "A(c?)"]
        records = [
            json.loads(x) for x in (tmp_path / "out" / "r.jsonl").read_text(encoding="utf-8").splitlines()
        ]
        assert [(r["step"], r.get("item")) for r in records] == [
            ("batch", 0),
            ("batch", 1),
            ("batch", 2),
            (1, None),
        ]
        assert records[0]["input"] == {"question": "a?", "lang": "de"}

    def test_step_settings_merge_over_run_settings(self, tmp_path: Path) -> None:
        text = """\
version: 1
kb: sample
settings:
  retrieval: {k: 3}
  generation: {max_new_tokens: 160}
steps:
  - ask: {question: x}
    settings: {retrieval: {translate: false}, generation: {strategy: beam}}
  - ask: {question: y}
"""
        script = load_script(write_script(tmp_path, text))
        backend = FakeBackend()
        run_script(script, backend)
        first, second = (a["settings"] for a in backend.of("ask"))
        assert first == {
            "kb": "sample",
            "retrieval": {"k": 3, "translate": False},
            "generation": {"max_new_tokens": 160, "strategy": "beam"},
        }
        assert second == {"kb": "sample", "retrieval": {"k": 3}, "generation": {"max_new_tokens": 160}}
        assert script.settings["retrieval"] == {"k": 3}  # the script is not changed by merging

    def test_outputs_written(self, tmp_path: Path) -> None:
        text = """\
version: 1
title: Tea report
outputs: {jsonl: out/results.jsonl, markdown: out/report.md}
steps:
  - id: q
    ask: {question: "Wie heiß soll das Wasser sein?"}
  - search: {query: tea, k: 1}
  - write: {draft: "# Tee", output: out/expanded.md}
"""
        report = run_script(load_script(write_script(tmp_path, text)), FakeBackend())
        records = [
            json.loads(x) for x in (tmp_path / "out/results.jsonl").read_text(encoding="utf-8").splitlines()
        ]
        assert [(r["step"], r["type"]) for r in records] == [("q", "ask"), (1, "search"), (2, "write")]
        assert set(records[0]) == {"step", "index", "type", "input", "output", "seconds"}
        assert records[0]["output"]["answer"] == "A(Wie heiß soll das Wasser sein?)"
        markdown = (tmp_path / "out/report.md").read_text(encoding="utf-8")
        assert markdown.startswith("# Tea report\n")
        assert "## 1. ask `q`" in markdown and "**Question:** Wie heiß soll das Wasser sein?" in markdown
        assert (
            "> A(Wie heiß soll das Wasser sein?)" in markdown and "1. **Brewing Green Tea** (en" in markdown
        )
        assert "## 2. search" in markdown and "passage for tea" in markdown
        assert (tmp_path / "out/expanded.md").read_text(encoding="utf-8").startswith("# Expanded\n\n# Tee")
        assert {p.name for p in report.written} == {"results.jsonl", "report.md", "expanded.md"}

    def test_a_failing_step_stops_the_run_and_keeps_records(self, tmp_path: Path) -> None:
        text = "version: 1\noutputs: {jsonl: r.jsonl, markdown: r.md}\nsteps:\n  - search: {query: x}\n"
        text += "  - id: q\n    ask: {question: y}\n  - translate: {text: z, to: de}\n"
        failure = StoreError("knowledge base 'default' does not exist", hint="run babelrag ingest first")
        backend = FakeBackend(fail={"ask": failure})
        with pytest.raises(ScriptError) as caught:
            run_script(load_script(write_script(tmp_path, text)), backend)
        message = str(caught.value)
        assert (
            "run.yaml line 5, steps[1] (ask 'q'): ask failed: knowledge base 'default' does not exist"
            in message
        )
        assert backend.of("translate") == []
        records = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text(encoding="utf-8").splitlines()]
        assert [r["type"] for r in records] == ["search", "ask"] and records[1][
            "error"
        ] == caught.value.report.stopped
        assert "**Stopped:**" in (tmp_path / "r.md").read_text(encoding="utf-8")
        assert isinstance(caught.value, BabelragError) and caught.value.hint == "run babelrag ingest first"

    def test_on_error_continue(self, tmp_path: Path) -> None:
        text = "version: 1\non_error: continue\nsteps:\n  - id: q\n    ask: {question: y}\n"
        text += "  - translate: {text: '${q.answer}', to: de}\n  - search: {query: x}\n"
        backend = FakeBackend(fail={"ask": RuntimeError("out of memory")})
        report = run_script(load_script(write_script(tmp_path, text)), backend)
        assert not report.ok and len(report.failures) == 2
        assert "line 4, steps[0] (ask 'q'): ask failed: RuntimeError: out of memory" in report.failures[0]
        assert "steps[1].translate.text" in report.failures[1] and "has no value" in report.failures[1]
        assert len(backend.of("search")) == 1 and [r.get("error") is None for r in report.records] == [
            False,
            False,
            True,
        ]

    def test_a_bad_referenced_value_names_its_field(self, tmp_path: Path) -> None:
        text = "version: 1\nvars: {k: two}\nsteps:\n  - search:\n      query: x\n      k: ${vars.k}\n"
        with pytest.raises(ScriptError) as caught:
            run_script(load_script(write_script(tmp_path, text)), FakeBackend())
        assert "run.yaml line 6, steps[0].search.k: must be an integer (got 'two')" in str(caught.value)

    def test_jsonl_is_flushed_after_each_record(self, tmp_path: Path) -> None:
        seen: list[int] = []

        def count_lines(kind: str, args: dict) -> None:
            out = tmp_path / "r.jsonl"
            seen.append(len(out.read_text(encoding="utf-8").splitlines()))

        text = (
            "version: 1\noutputs: {jsonl: r.jsonl}\nsteps:\n  - search: {query: a}\n  - search: {query: b}\n"
        )
        run_script(load_script(write_script(tmp_path, text)), FakeBackend(on_call=count_lines))
        assert seen == [0, 1]

    def test_chat_sessions(self, tmp_path: Path) -> None:
        text = "version: 1\nsteps:\n  - id: c\n    chat: {turns: 'Hallo?'}\n"
        text += "  - chat: {session: '${c.session}', turns: ['Und?']}\n"
        backend = FakeBackend()
        run_script(load_script(write_script(tmp_path, text)), backend)
        first, second = backend.of("chat")
        assert (first["session"], first["turns"]) == (None, ["Hallo?"])
        assert (second["session"], second["turns"]) == ("s-1", ["Und?"])

    def test_command_line_variables(self, tmp_path: Path) -> None:
        path = write_script(
            tmp_path, "version: 1\nvars: {topic: tea}\nsteps:\n  - search: {query: '${vars.topic}'}\n"
        )
        backend = FakeBackend()
        run_script(load_script(path, variables={"topic": "bikes"}), backend)
        assert backend.of("search")[0]["query"] == "bikes"
