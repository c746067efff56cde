"""The real packaged student (multilingual-e5-small) trained for a few steps on pairs from real
catalogs of this machine, with a copy of itself as the teacher (no optional model needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelrag.agents.training.distill import DistillConfig, distill
from babelrag.agents.training.parallel import harvest
from tests.conftest import _pack_path

pytestmark = pytest.mark.integration


def test_the_real_student_trains_and_loads(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    from babelrag.agents.hf_models import load_sentence_transformer

    rows, _ = harvest(["de"], [Path("/usr/share/locale")], max_pairs=40)
    if not rows:
        pytest.skip("no German gettext catalogs on this machine")
    path = str(_pack_path("babelrag/multilingual-e5-small"))
    teacher = load_sentence_transformer(path, "cpu")
    student = load_sentence_transformer(path, "cpu")  # its own copy: training changes the weights
    before = student.encode(["query: " + rows[0][2]], normalize_embeddings=True)
    result = distill(
        teacher=teacher,
        student=student,
        teacher_id="e5",
        student_id="e5",
        rows=rows,
        output=tmp_path / "e5-distilled",
        config=DistillConfig(
            max_pairs=40, max_steps=4, batch_size=8, learning_rate=1e-4, student_prompts=("query: ",)
        ),
    )
    assert result.steps == 4 and result.projection is None and result.languages == {"de": len(rows)}
    loaded = SentenceTransformer(str(tmp_path / "e5-distilled"), device="cpu")
    after = loaded.encode(["query: " + rows[0][2]], normalize_embeddings=True)
    assert loaded.get_embedding_dimension() == 384 and float((before * after).sum()) < 0.99999  # it moved
