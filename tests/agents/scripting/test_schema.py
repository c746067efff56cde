"""Script validation: every problem named with its line and field, before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.agents.scripting.helpers import invalid

pytestmark = pytest.mark.unit


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
