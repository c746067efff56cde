"""Prompt templates as files: the built-ins load, user files override them, mistakes name the file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from babelrag.chains.answer import ANSWER_VARIABLES, REWRITE_VARIABLES
from babelrag.chains.prompting import load_messages, load_prompt, prompt_path, render
from babelrag.chains.translate import TRANSLATE_VARIABLES
from babelrag.prompts import PROMPTS_DIR
from babelrag.stores.errors import TemplateError

pytestmark = pytest.mark.unit

CHAIN_VARIABLES = {
    "answer": ANSWER_VARIABLES,
    "rewrite_in_language": REWRITE_VARIABLES,
    "translate_query": TRANSLATE_VARIABLES,
}


def write_prompt(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


class TestBuiltInTemplates:
    @pytest.mark.parametrize("name", sorted(CHAIN_VARIABLES))
    def test_declared_variables_match_the_chain(self, name: str) -> None:
        declared = yaml.safe_load((PROMPTS_DIR / f"{name}.yaml").read_text(encoding="utf-8"))["variables"]
        assert sorted(declared) == sorted(CHAIN_VARIABLES[name]), "the file documents what it gets"

    @pytest.mark.parametrize("name", sorted(CHAIN_VARIABLES))
    def test_loads_with_the_variables_its_chain_passes(self, name: str) -> None:
        variables = CHAIN_VARIABLES[name]
        template = load_prompt(name, variables=variables)
        assert set(template.input_variables) == set(variables), "every variable the chain passes is used"
        assert template.metadata == {"path": str(PROMPTS_DIR / f"{name}.yaml"), "name": name}
        messages = render(template, **{v: f"<{v}>" for v in variables})
        text = "\n".join(str(m.content) for m in messages)
        for v in variables:
            assert f"<{v}>" in text

    def test_answer_prompt_roles(self) -> None:
        messages = render(
            load_prompt("answer", variables=ANSWER_VARIABLES),
            passages="P",
            question="Q",
            language="German",
        )
        assert [type(m) for m in messages] == [SystemMessage, HumanMessage]
        assert "German" in str(messages[0].content)

    def test_translate_prompt_keeps_few_shot_examples_as_assistant_turns(self) -> None:
        messages = render(
            load_prompt("translate_query", variables=TRANSLATE_VARIABLES),
            query="Wie spät ist es?",
            source_language="German",
            target_language="English",
        )
        assert any(isinstance(m, AIMessage) for m in messages)
        assert isinstance(messages[-1], HumanMessage)
        assert messages[-1].content.endswith("Translate from German into English:\nWie spät ist es?")


class TestUserOverrides:
    def test_user_file_overrides_the_built_in_by_name(self, tmp_path: Path) -> None:
        user = tmp_path / "prompts"
        path = write_prompt(
            user,
            "answer",
            "messages:\n  - role: user\n    content: 'Only this: {question} in {language}'\n",
        )
        assert prompt_path("answer", user) == path
        template = load_prompt("answer", variables=ANSWER_VARIABLES, user_dir=user)
        messages = render(template, passages="ignored", question="Q?", language="French")
        assert [m.content for m in messages] == ["Only this: Q? in French"]
        assert template.metadata["path"] == str(path)

    def test_other_templates_still_come_from_the_built_ins(self, tmp_path: Path) -> None:
        user = tmp_path / "prompts"
        write_prompt(user, "answer", "messages:\n  - role: user\n    content: '{question}'\n")
        assert prompt_path("translate_query", user) == PROMPTS_DIR / "translate_query.yaml"

    def test_yml_suffix_is_found(self, tmp_path: Path) -> None:
        user = tmp_path / "prompts"
        user.mkdir()
        (user / "answer.yml").write_text("messages:\n  - role: user\n    content: '{question}'\n")
        assert prompt_path("answer", user) == user / "answer.yml"

    def test_unknown_template_name(self, tmp_path: Path) -> None:
        with pytest.raises(TemplateError, match="no prompt template named 'summarise'"):
            load_prompt("summarise", variables=(), user_dir=tmp_path)


class TestBrokenTemplates:
    def test_unknown_variable_names_the_file_and_the_variable(self, tmp_path: Path) -> None:
        path = write_prompt(
            tmp_path,
            "answer",
            "messages:\n  - role: system\n    content: Be brief.\n"
            "  - role: user\n    content: '{question} {contxt}'\n",
        )
        with pytest.raises(TemplateError) as info:
            load_prompt("answer", variables=ANSWER_VARIABLES, user_dir=tmp_path)
        message = str(info.value)
        assert str(path) in message
        assert "{contxt}" in message and "message 2" in message
        assert "{question}" in message, "the error lists what the template may use"

    def test_malformed_yaml_names_the_file(self, tmp_path: Path) -> None:
        path = write_prompt(tmp_path, "answer", "messages:\n  - role: user\n   content: [unclosed\n")
        with pytest.raises(TemplateError, match="not valid YAML") as info:
            load_prompt("answer", variables=ANSWER_VARIABLES, user_dir=tmp_path)
        assert str(path) in str(info.value)

    @pytest.mark.parametrize("content", ["Answer { briefly: {question}", "Use JSON like } {question}"])
    def test_unbalanced_brace_hints_at_doubling_it(self, tmp_path: Path, content: str) -> None:
        path = write_prompt(tmp_path, "answer", f"messages:\n  - role: user\n    content: '{content}'\n")
        with pytest.raises(TemplateError) as info:
            load_prompt("answer", variables=ANSWER_VARIABLES, user_dir=tmp_path)
        assert str(path) in str(info.value)
        assert info.value.hint is not None and "{{" in info.value.hint and "}}" in info.value.hint

    def test_doubled_braces_are_literal(self, tmp_path: Path) -> None:
        write_prompt(
            tmp_path,
            "answer",
            "messages:\n  - role: user\n    content: 'Reply as {{\"a\": 1}}: {question}'\n",
        )
        template = load_prompt("answer", variables=ANSWER_VARIABLES, user_dir=tmp_path)
        assert template.input_variables == ["question"]
        assert render(template, question="Q")[0].content == 'Reply as {"a": 1}: Q'

    @pytest.mark.parametrize(
        "text",
        ["description: no messages here\n", "messages: []\n", "- just\n- a list\n", "messages: hello\n"],
    )
    def test_missing_messages_is_an_error(self, tmp_path: Path, text: str) -> None:
        path = write_prompt(tmp_path, "answer", text)
        with pytest.raises(TemplateError, match="'messages'") as info:
            load_prompt("answer", variables=ANSWER_VARIABLES, user_dir=tmp_path)
        assert str(path) in str(info.value)

    def test_unknown_role_is_an_error(self, tmp_path: Path) -> None:
        write_prompt(tmp_path, "answer", "messages:\n  - role: narrator\n    content: '{question}'\n")
        with pytest.raises(TemplateError, match="narrator"):
            load_prompt("answer", variables=ANSWER_VARIABLES, user_dir=tmp_path)

    @pytest.mark.parametrize("field", ["{question!r}", "{question:>10}", "{0}", "{}", "{a.b}"])
    def test_fields_other_than_plain_names_are_rejected(self, tmp_path: Path, field: str) -> None:
        write_prompt(tmp_path, "answer", f"messages:\n  - role: user\n    content: '{field}'\n")
        with pytest.raises(TemplateError, match="unsupported field"):
            load_prompt("answer", variables=["question", "a"], user_dir=tmp_path)


class TestRender:
    def test_missing_variable_names_the_file(self) -> None:
        template = load_prompt("answer", variables=ANSWER_VARIABLES)
        with pytest.raises(TemplateError) as info:
            render(template, passages="P", question="Q")
        assert str(PROMPTS_DIR / "answer.yaml") in str(info.value)
        assert "{language}" in str(info.value)

    def test_user_text_with_braces_renders_literally(self) -> None:
        template = load_prompt("answer", variables=ANSWER_VARIABLES)
        question = "Why does {question} print {} and } in my f-string {language}?"
        passages = 'dict literal: {"a": {"b": 1}} and a lone {'
        messages = render(template, passages=passages, question=question, language="English")
        user = str(messages[-1].content)
        assert question in user
        assert passages in user
        assert str(messages[0].content).endswith("Always reply in English.")


class TestMessages:
    def test_built_in_messages(self) -> None:
        messages = load_messages()
        assert messages["no_answer"]["zh"] == "知识库中没有这个问题的答案。"
        assert set(messages) >= {"no_answer", "sources"}
        assert set(messages["no_answer"]) == set(messages["sources"])

    def test_user_messages_merge_over_the_built_ins(self, tmp_path: Path) -> None:
        (tmp_path / "messages.yaml").write_text(
            "no_answer:\n  en: Nothing found.\n  eo: Neniu respondo.\ngreeting:\n  en: Hi\n",
            encoding="utf-8",
        )
        merged = load_messages(tmp_path)
        built_in = load_messages()
        assert merged["no_answer"]["en"] == "Nothing found."
        assert merged["no_answer"]["eo"] == "Neniu respondo."
        assert merged["no_answer"]["de"] == built_in["no_answer"]["de"], "entries not overridden stay"
        assert merged["sources"] == built_in["sources"]
        assert merged["greeting"] == {"en": "Hi"}

    def test_user_folder_without_messages_file(self, tmp_path: Path) -> None:
        assert load_messages(tmp_path) == load_messages()

    def test_malformed_user_messages_name_the_file(self, tmp_path: Path) -> None:
        path = tmp_path / "messages.yaml"
        path.write_text("no_answer: just a string\n", encoding="utf-8")
        with pytest.raises(TemplateError) as info:
            load_messages(tmp_path)
        assert str(path) in str(info.value)
