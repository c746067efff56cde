"""Scripted runs: validation names line and field before anything runs; the runner passes values
between steps, batches over JSONL, merges settings, writes JSONL and Markdown, and stops (or not)
on a failing step. A fake backend records every call."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from babelrag.agents.scripting import ScriptError, load_script, run_script
from babelrag.agents.scripting.templates import TemplateSyntaxError, resolve, split_template
from babelrag.stores.errors import BabelragError, StoreError

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "scripts"
EXAMPLE_SCRIPTS = sorted(EXAMPLES.glob("*.yaml"))


class FakeBackend:
    """Answers every call from its inputs and records it; ``fail`` maps a step type to an error."""

    def __init__(self, fail: dict[str, Exception] | None = None, on_call: Any = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail or {}
        self.on_call = on_call

    def _record(self, kind: str, **args: Any) -> None:
        self.calls.append((kind, args))
        if self.on_call:
            self.on_call(kind, args)
        if kind in self.fail:
            raise self.fail[kind]

    def ingest(self, paths: list[Path], settings: dict) -> dict:
        self._record("ingest", paths=paths, settings=settings)
        return {"added": len(paths), "updated": 0, "unchanged": 0, "failed": []}

    def search(self, query: str, k: int | None, lang: str | None, where: dict | None, settings: dict) -> list:
        self._record("search", query=query, k=k, lang=lang, where=where, settings=settings)
        hit = {"id": "h1", "source": "/kb/tea.md", "title": "Brewing Green Tea", "lang": "en"}
        return [{**hit, "score": 0.87, "text": f"passage for {query}", "metadata": {}}]

    def ask(self, question: str, lang: str | None, settings: dict) -> dict:
        self._record("ask", question=question, lang=lang, settings=settings)
        source = {"ref": 1, "title": "Brewing Green Tea", "lang": "en", "source": "/kb/tea.md", "score": 0.9}
        answer = {"question": question, "answer": f"A({question})", "lang": lang or "zh", "no_answer": False}
        return answer | {
            "sources": [source],
            "translations": {},
            "timings": {},
            "generation": {},
            "notes": [],
        }

    def translate(self, text: str, source: str | None, target: str, settings: dict) -> str:
        self._record("translate", text=text, source=source, target=target, settings=settings)
        return f"[{target}] {text}"

    def write(
        self, draft: str, lang: str | None, factor: float | None, sections: Any, settings: dict
    ) -> dict:
        self._record("write", draft=draft, lang=lang, factor=factor, sections=sections, settings=settings)
        return {"text": f"# Expanded\n\n{draft.strip()}\n\nMore.", "lang": lang}

    def chat(self, session: str | None, turns: list[str], settings: dict) -> dict:
        self._record("chat", session=session, turns=turns, settings=settings)
        answers = [{"question": t, "answer": f"A({t})", "lang": "de", "sources": []} for t in turns]
        return {"session": session or "s-1", "turns": answers}

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [args for name, args in self.calls if name == kind]


def write_script(folder: Path, text: str, **files: str) -> Path:
    for name, content in files.items():
        (folder / name).write_text(content, encoding="utf-8")
    path = folder / "run.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def invalid(folder: Path, text: str, **files: str) -> str:
    with pytest.raises(ScriptError) as caught:
        load_script(write_script(folder, text, **files))
    return str(caught.value)


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    """A copy of examples/ (scripts and the sample KB), so runs write their outputs there."""
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    return tmp_path / "examples" / "scripts"


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


class TestValidation:
    def test_required_field(self, tmp_path: Path) -> None:
        text = "version: 1\nsteps:\n  - ingest: {paths: [.]}\n  - search: {query: x}\n  - ask: {lang: de}\n"
        assert "run.yaml line 5, steps[2].ask.question: required field missing" in invalid(tmp_path, text)

    def test_unknown_step_type(self, tmp_path: Path) -> None:
        message = invalid(tmp_path, "version: 1\nsteps:\n  - ask: {question: x}\n  - asks: {question: y}\n")
        assert "line 4, steps[1]: unknown step type 'asks' (expected one of ingest, search, ask," in message
        assert "did you mean 'ask'?" in message

    def test_reference_to_an_undefined_step(self, tmp_path: Path) -> None:
        text = "version: 1\nsteps:\n  - id: q\n    ask: {question: x}\n"
        text += "  - translate: {text: '${q2.answer}', to: de}\n"
        message = invalid(tmp_path, text)
        expected = "${q2.answer} refers to step 'q2', which is not defined before this step"
        assert f"line 5, steps[1].translate.text: {expected}" in message

    def test_reference_to_a_later_step(self, tmp_path: Path) -> None:
        text = "version: 1\nsteps:\n  - translate: {text: '${q.answer}', to: de}\n"
        text += "  - id: q\n    ask: {question: x}\n"
        assert "line 3, steps[0].translate.text: ${q.answer} refers to step 'q'" in invalid(tmp_path, text)

    def test_settings_are_checked_by_the_settings_model(self, tmp_path: Path) -> None:
        text = "version: 1\nsettings:\n  retrieval: {k: 3}\n  generation: {max_new_tokens: 0}\nsteps:\n"
        text += "  - ask: {question: x}\n    settings: {retrieval: {translte: false}}\n"
        message = invalid(tmp_path, text)
        assert "line 4, settings.generation.max_new_tokens: must be >= 1" in message
        assert (
            "line 7, steps[0].settings.retrieval.translte: unknown setting; did you mean 'translate'?"
            in message
        )

    def test_kb_name(self, tmp_path: Path) -> None:
        assert "line 2, kb: a knowledge base name" in invalid(
            tmp_path, "version: 1\nkb: a b\nsteps: [{ask: {question: x}}]\n"
        )

    def test_duplicate_ids(self, tmp_path: Path) -> None:
        text = "version: 1\nsteps:\n  - id: q\n    ask: {question: x}\n  - id: q\n    ask: {question: y}\n"
        assert "line 5, steps[1].id: duplicate id 'q' (already used by steps[0] at line 3)" in invalid(
            tmp_path, text
        )

    def test_k_must_be_an_integer(self, tmp_path: Path) -> None:
        message = invalid(tmp_path, "version: 1\nsteps:\n  - search: {query: x, k: three}\n")
        assert "line 3, steps[0].search.k: must be an integer (got 'three')" in message

    def test_foreach_file_missing(self, tmp_path: Path) -> None:
        text = "version: 1\nsteps:\n  - foreach: questions.jsonl\n    ask: {question: '${item.question}'}\n"
        message = invalid(tmp_path, text)
        assert "line 3, steps[0].foreach: file questions.jsonl does not exist" in message
        assert "item is only defined" not in message  # one cause, one error

    def test_foreach_bad_line_and_missing_field(self, tmp_path: Path) -> None:
        text = "version: 1\nsteps:\n  - foreach: q.jsonl\n    ask: {question: '${item.question}'}\n"
        message = invalid(tmp_path, text, **{"q.jsonl": '{"question": "a"}\n[1]\n{"q": "b"}\n'})
        assert "line 3, steps[0].foreach: q.jsonl line 2 must be a JSON object" in message
        assert "line 4, steps[0].ask.question: ${item.question}: the item at q.jsonl line 3 has no" in message

    def test_unknown_field_in_a_step(self, tmp_path: Path) -> None:
        text = (
            "version: 1\nsteps:\n  - ask: {question: x, lnag: de}\n  - ask: {question: y}\n    setings: {}\n"
        )
        message = invalid(tmp_path, text)
        assert (
            "line 3, steps[0].ask.lnag: unknown field 'lnag' (expected question, lang); did you mean 'lang'?"
            in message
        )
        assert (
            "line 5, steps[1].setings: unknown field 'setings'" in message
            and "did you mean 'settings'?" in message
        )

    def test_item_outside_foreach(self, tmp_path: Path) -> None:
        message = invalid(tmp_path, "version: 1\nsteps:\n  - ask: {question: '${item.question}'}\n")
        assert (
            "line 3, steps[0].ask.question: ${item.question}: item is only defined in a step with foreach"
            in message
        )

    def test_unbalanced_reference(self, tmp_path: Path) -> None:
        message = invalid(
            tmp_path, "version: 1\nvars: {a: 1}\nsteps:\n  - ask: {question: 'about ${vars.a'}\n"
        )
        assert "line 4, steps[0].ask.question: unbalanced '${'" in message

    def test_unknown_variable(self, tmp_path: Path) -> None:
        message = invalid(
            tmp_path, "version: 1\nvars: {topic: tea}\nsteps:\n  - search: {query: '${vars.topc}'}\n"
        )
        assert "line 4, steps[0].search.query: ${vars.topc}: no variable 'topc' (defined: topic)" in message

    def test_foreach_result_needs_an_index(self, tmp_path: Path) -> None:
        text = (
            "version: 1\nsteps:\n  - id: b\n    foreach: [{q: x}, {q: y}]\n    ask: {question: '${item.q}'}\n"
        )
        text += "  - translate: {text: '${b.answer}', to: de}\n"
        assert "line 6, steps[1].translate.text: ${b.answer}: step 'b' runs once per item" in invalid(
            tmp_path, text
        )

    def test_version(self, tmp_path: Path) -> None:
        assert "line 1, version: required field missing" in invalid(
            tmp_path, "steps: [{ask: {question: x}}]\n"
        )
        assert "line 1, version: unsupported version 2" in invalid(
            tmp_path, "version: 2\nsteps: [{ask: {question: x}}]\n"
        )

    def test_yaml_syntax_error_names_the_line(self, tmp_path: Path) -> None:
        assert "run.yaml line 3: not valid YAML" in invalid(
            tmp_path, "version: 1\nsteps:\n  - ask: {question: [x}\n"
        )

    def test_all_errors_together_sorted_by_line(self, tmp_path: Path) -> None:
        text = (
            "version: 1\n"
            "settings: {generation: {max_new_tokens: 0}}\n"
            "steps:\n"
            "  - search: {query: x, k: 0}\n"
            "  - asks: {question: y}\n"
            "  - write: {draft: x, draft_file: nope.md}\n"
        )
        message = invalid(tmp_path, text)
        assert message.startswith(f"{tmp_path / 'run.yaml'}: 5 errors\n")
        numbers = [int(line.split(",")[0].split()[-1]) for line in message.splitlines()[1:6]]
        assert numbers == sorted(numbers) == [2, 4, 5, 6, 6]
        assert "nope.md does not exist" in message

    def test_write_factor_is_bounded_like_the_setting(self, tmp_path: Path) -> None:
        from babelrag.agents.config import Settings

        if "write" not in Settings.model_fields:
            pytest.skip("this configuration has no write.factor setting")
        message = invalid(tmp_path, "version: 1\nsteps:\n  - write: {draft: x, factor: 0.5}\n")
        assert "line 3, steps[0].write.factor: must be > 1 (got 0.5)" in message

    def test_references_are_not_expanded_in_settings(self, tmp_path: Path) -> None:
        text = (
            "version: 1\nvars: {n: 3}\nsettings: {search: {k: '${vars.n}'}}\nsteps: [{ask: {question: x}}]\n"
        )
        assert "line 3, settings.search.k: ${...} is not expanded here" in invalid(tmp_path, text)

    def test_ingest_paths_must_exist(self, tmp_path: Path) -> None:
        message = invalid(tmp_path, "version: 1\nsteps:\n  - ingest:\n      paths: [., missing]\n")
        assert "line 4, steps[0].ingest.paths[1]: missing does not exist" in message


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


class TestTemplates:
    def test_literal_dollar_brace(self) -> None:
        assert resolve("a $${b} ${vars.x}", {"vars": {"x": [1, "二"]}}) == 'a ${b} [1, "二"]'

    def test_bad_reference(self) -> None:
        with pytest.raises(TemplateSyntaxError):
            split_template("${q..answer}")
