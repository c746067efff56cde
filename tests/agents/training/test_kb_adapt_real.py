"""The real packaged models: the GGUF generator scores a question higher given the passage it is
about, and the real student (multilingual-e5-small) trains a few steps on generated-style records."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelrag.agents.training.kb_adapt import AdaptConfig, adapt
from babelrag.agents.training.kb_data import DataFile, Record
from tests.agents.training.test_kb_adapt import report_for
from tests.conftest import _pack_path

pytestmark = pytest.mark.integration

APT = "To install a package, run apt install followed by its name; apt remove uninstalls it again."
X11 = "The X server draws windows on the screen; its configuration files live in /etc/X11/xorg.conf.d."
CRON = "Cron runs commands at fixed times; edit your own schedule with crontab -e."


@pytest.mark.slow
def test_the_generator_finds_a_question_likelier_given_its_own_passage(llama_chat_model) -> None:
    from babelrag.agents.config import load_settings
    from babelrag.agents.runtime import Runtime
    from babelrag.agents.training.kb_data import QUESTION_VARIABLES, generator_teacher

    prompt = Runtime(load_settings()).prompt("kb_question", QUESTION_VARIABLES)
    teacher = generator_teacher(llama_chat_model, prompt, model_id="qwen-gguf")
    question = "Wie installiere ich ein Paket?"
    own = teacher.score(APT, "de", question)
    again = teacher.score(APT, "de", question)  # now only the question is evaluated, on the cached prompt
    # llama.cpp's kernels round differently for another batch split: a few thousandths of a nat
    assert again == pytest.approx(own, abs=0.01), "the cached prefix scores alike"
    other = teacher.score(X11, "de", question)
    assert len(own) == len(other) > 3 and all(x <= 0 for x in own)
    assert sum(own) > sum(other) + 3
    written = teacher.write(CRON, "en")
    assert written.strip(), "the same prompt writes a question"


def test_the_real_student_trains_a_few_steps_and_loads(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    from babelrag.agents.hf_models import load_sentence_transformer

    texts = {"apt": APT, "x11": X11, "cron": CRON}
    questions = {
        "apt": "Wie installiere ich ein Paket?",
        "x11": "X服务器的配置文件在哪里？",
        "cron": "Wie plane ich Befehle?",
    }
    ids = list(texts)
    records = [
        Record(pid, f"{pid}#0", "train", "de", questions[pid], True, "", [ids[(n + 1) % 3]], [-5.0, -20.0], 6)
        for n, pid in enumerate(ids)
    ]
    # its own copy: the session's e5 fixture must not change
    student = load_sentence_transformer(str(_pack_path("babelrag/multilingual-e5-small")), "cpu")
    before = student.encode(["query: " + questions["apt"]], normalize_embeddings=True)
    output = tmp_path / "e5-kb"
    data = DataFile(output / "training-data" / "questions.jsonl")
    data.append(records)
    result = adapt(
        student=student, records=records, texts=texts, output=output,
        config=AdaptConfig(max_steps=3, batch_size=3, learning_rate=1e-4, query_prompt="query: ",
                           document_prompt="passage: "),
        report=report_for(output, data.path),
    )  # fmt: skip
    assert result.steps == 3 and result.rows == 3
    loaded = SentenceTransformer(str(output), device="cpu")
    after = loaded.encode(["query: " + questions["apt"]], normalize_embeddings=True)
    assert loaded.get_embedding_dimension() == 384 and float((before * after).sum()) < 0.99999  # it moved
