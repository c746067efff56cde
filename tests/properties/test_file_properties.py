"""Script YAML, BEIR folders and question files, the config file and environment variables given
anything: each ends as a valid object or one clear error of the app's hierarchy, never a traceback."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from babelrag.stores.errors import BabelragError
from tests.properties.support import bounded, tried

pytestmark = pytest.mark.unit

SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=True)
    | st.text(max_size=30)
)
STEP_WORDS = st.sampled_from(
    [
        "ingest",
        "search",
        "ask",
        "translate",
        "write",
        "chat",
        "foreach",
        "id",
        "settings",
        "paths",
        "query",
        "question",
        "text",
        "to",
        "from",
        "${vars.x}",
        "${x.0.y}",
        "${",
        "steps",
        "vars",
        "version",
        "kb",
    ]
)
KEY = st.one_of(STEP_WORDS, st.text(max_size=10))
VALUE = st.recursive(
    st.one_of(SCALAR, STEP_WORDS),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEY, inner, max_size=4),
    max_leaves=30,
)
SCRIPT = (
    st.fixed_dictionaries(
        {},
        optional={
            "version": st.one_of(st.just(1), SCALAR),
            "kb": st.one_of(st.just("sample"), SCALAR),
            "vars": VALUE,
            "settings": VALUE,
            "outputs": VALUE,
            "on_error": st.one_of(st.sampled_from(["stop", "continue"]), SCALAR),
            "steps": st.lists(st.dictionaries(KEY, VALUE, max_size=3), max_size=4) | VALUE,
        },
    )
    | VALUE
)


def folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="props-"))


@given(data=SCRIPT)
def test_script_yaml_of_any_structure(data) -> None:
    from babelrag.agents.scripting import parse_script

    tried("script YAML: random structures")
    text = yaml.safe_dump(data, allow_unicode=True)
    with bounded():
        try:
            script = parse_script(text, path=folder() / "s.yaml")
        except BabelragError as exc:
            assert str(exc).strip()
            return
    assert script.steps is not None


@given(text=st.text(max_size=400))
def test_script_text_that_is_not_yaml(text: str) -> None:
    from babelrag.agents.scripting import parse_script

    tried("script YAML: any text")
    with bounded(), pytest.raises(BabelragError):
        parse_script(text + "\n: [", path=folder() / "s.yaml")


@given(
    names=st.lists(st.from_regex(r"[a-z]{1,6}", fullmatch=True), min_size=1, max_size=5, unique=True),
    data=st.data(),
)
def test_variables_that_refer_to_each_other_are_refused(names: list[str], data) -> None:
    """Cycles (a → b → a) cannot arise: a variable may not refer to others at all."""
    from babelrag.agents.scripting import parse_script

    tried("script YAML: variable cycles")
    refs = {n: "${" + data.draw(st.sampled_from(names)) + "}" for n in names}
    text = yaml.safe_dump(
        {"version": 1, "vars": refs, "steps": [{"search": {"query": "${" + names[0] + "}"}}]}
    )
    with bounded(), pytest.raises(BabelragError, match="vars"):
        parse_script(text, path=folder() / "s.yaml")


JSON_LINE = st.one_of(
    st.builds(lambda d: json.dumps(d), VALUE),
    st.builds(
        lambda i, t, extra: json.dumps({"_id": i, "text": t, **extra}),
        st.one_of(st.text(max_size=5), SCALAR),
        st.one_of(st.text(max_size=30), SCALAR),
        st.dictionaries(st.text(max_size=5), SCALAR, max_size=2),
    ),
    st.text(max_size=40),
)
QREL_LINE = st.one_of(
    st.builds(
        lambda q, d, s: f"{q}\t{d}\t{s}",
        st.text(max_size=4),
        st.text(max_size=4),
        st.one_of(st.integers(), st.text(max_size=3)),
    ),
    st.text(max_size=30),
)


@given(
    corpus=st.lists(JSON_LINE, max_size=6),
    queries=st.lists(JSON_LINE, max_size=6),
    qrels=st.lists(QREL_LINE, max_size=6),
    header=st.booleans(),
)
def test_beir_folders(corpus, queries, qrels, header) -> None:
    from babelrag.agents.evaluation.beir import load_beir

    tried("BEIR folders")
    root = folder()
    (root / "qrels").mkdir()
    (root / "corpus.jsonl").write_text("\n".join(corpus), encoding="utf-8")
    (root / "queries.jsonl").write_text("\n".join(queries), encoding="utf-8")
    lines = (["query-id\tcorpus-id\tscore"] if header else []) + qrels
    (root / "qrels" / "test.tsv").write_text("\n".join(lines), encoding="utf-8")
    with bounded():
        try:
            dataset = load_beir(root)
        except BabelragError as exc:
            assert str(exc).strip()
            return
    assert dataset.queries and dataset.corpus


@given(
    lines=st.lists(
        st.one_of(JSON_LINE, st.builds(lambda q: json.dumps({"question": q}), SCALAR)), max_size=6
    ),
    raw=st.binary(max_size=50),
)
def test_question_files(lines, raw: bytes) -> None:
    from babelrag.agents.evaluation.answer_eval import load_questions

    tried("question files")
    path = folder() / "q.jsonl"
    path.write_bytes("\n".join(lines).encode() + raw)
    with bounded():
        try:
            questions = load_questions(path)
        except BabelragError as exc:
            assert str(exc).strip()
            return
    assert all(q.question.strip() for q in questions)


SECTIONS = ["models", "ingest", "search", "retrieval", "generation", "translation", "answer", "chat", "write"]
TOML_KEY = st.one_of(
    st.sampled_from(
        [
            "home",
            "kb",
            "cache_dir",
            "prompts_dir",
            *SECTIONS,
            "k",
            "chunk_tokens",
            "max_file_mb",
            "embedder",
            "device",
        ]
    ),
    st.text(max_size=8),
)


@given(
    data=st.dictionaries(
        TOML_KEY,
        st.recursive(
            st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=20),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TOML_KEY, inner, max_size=3),
            max_leaves=12,
        ),
        max_size=5,
    ),
    garbage=st.one_of(st.just(""), st.text(max_size=30)),
)
def test_config_files(data, garbage: str) -> None:
    import tomli_w

    from babelrag.agents.config import Settings, load_settings

    tried("config files")
    try:
        text = tomli_w.dumps(data)
    except (TypeError, ValueError):  # something TOML cannot hold (e.g. mixed-type arrays)
        text = ""
    path = folder() / "config.toml"
    path.write_text(text + garbage, encoding="utf-8")
    with bounded():
        try:
            settings = load_settings(path, home=folder())
        except BabelragError as exc:
            assert str(exc).strip()
            return
    assert isinstance(settings, Settings)


ENV_NAMES = st.sampled_from(
    ["BABELRAG_HOME", "BABELRAG_KB", "BABELRAG_CACHE_DIR", "BABELRAG_PROMPTS_DIR"]
    + [f"BABELRAG_{s.upper()}" for s in SECTIONS]
    + [
        "BABELRAG_SEARCH__K",
        "BABELRAG_SEARCH__MAX_QUERY_CHARS",
        "BABELRAG_INGEST__CHUNK_TOKENS",
        "BABELRAG_INGEST__MAX_FILE_MB",
        "BABELRAG_MODELS__DEVICE",
        "BABELRAG_GENERATION__MAX_NEW_TOKENS",
        "BABELRAG_RETRIEVAL__TRANSLATE",
        "BABELRAG_NOT_A_SETTING",
        "BABELRAG_SEARCH__NOPE",
    ]
)
ENV_VALUES = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=30),
    st.builds(json.dumps, VALUE),
    st.sampled_from(["", " ", "0", "-1", "1e999", "nan", "true", "{}", "[]", "null", '{"k": "x"}']),
)


@given(env=st.dictionaries(ENV_NAMES, ENV_VALUES, max_size=4))
def test_environment_variables(env: dict[str, str], monkeypatch_module) -> None:
    from babelrag.agents.config import Settings, load_settings

    tried("environment variables")
    with monkeypatch_module.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        with bounded():
            try:
                settings = load_settings()
            except BabelragError as exc:
                assert str(exc).strip()
                return
    assert isinstance(settings, Settings) and str(settings.home) not in ("", ".")


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@given(query=st.text(max_size=300), limit=st.integers(1, 200))
def test_the_query_length_limit_holds_for_any_text(query: str, limit: int) -> None:
    from babelrag.agents.config import load_settings
    from babelrag.agents.limits import check_query

    tried("queries against the length limit")
    settings = load_settings(home=folder(), search={"max_query_chars": limit})
    stripped = query.strip()
    if not stripped or len(stripped) > limit:
        with pytest.raises(BabelragError):
            check_query(query, settings)
    else:
        assert check_query(query, settings) == stripped
