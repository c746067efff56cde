"""Debian packages fetched and unpacked into a private cache, as data for benchmarks.

Debian's translated manuals are real, freely licensed parallel text that our machines (and
CI) can reach. They are fetched at run time with ``apt-get download`` and unpacked with
``dpkg -x``, never installed and never committed. Nothing here needs root: when the system's
package lists are missing or lack a package, a private ``apt-get update`` fills lists kept
in the cache folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from babelrag.stores.errors import BabelragError

_PRIVATE_LISTS_MAX_AGE_S = 24 * 3600
_UNKNOWN_PACKAGE = ("unable to locate package", "has no installation candidate", "can't select candidate")
_UNPACKED_MARKER = ".unpacked-from"


class DebianPackageError(BabelragError):
    """A Debian package cannot be downloaded or unpacked."""


class UnknownPackageError(DebianPackageError):
    """The Debian archive that apt knows has no such package."""


def _run(argv: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LC_ALL": "C"}  # English messages, which we read
    try:
        return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise DebianPackageError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None


def _last_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (result.stderr + result.stdout).splitlines() if line.startswith("E:")]
    return (
        lines[-1] if lines else (result.stderr or result.stdout).strip()[-300:]
    ) or f"exit {result.returncode}"


class AptCache:
    """Downloads ``.deb`` files into ``root/debs`` and unpacks each into ``root/<package>``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.debs = self.root / "debs"
        self._private = self.root / "apt"

    def _private_options(self) -> list[str]:
        return [
            "-o", f"Dir::State::Lists={self._private / 'lists'}",
            "-o", f"Dir::Cache={self._private / 'cache'}",
            "-o", "Debug::NoLocking=1",
        ]  # fmt: skip

    def _refresh_private_lists(self, apt_get: str) -> None:
        lists = self._private / "lists"
        stamp = lists / ".updated"
        if stamp.is_file() and time.time() - stamp.stat().st_mtime < _PRIVATE_LISTS_MAX_AGE_S:
            return
        (lists / "partial").mkdir(parents=True, exist_ok=True)
        (self._private / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        result = _run([apt_get, "update", *self._private_options()])
        if result.returncode != 0:
            raise DebianPackageError(
                f"apt-get update into {lists} failed: {_last_error(result)}",
                hint="check that the Debian mirrors in /etc/apt/sources.list(.d) are reachable",
            )
        stamp.touch()

    def find_deb(self, package: str) -> Path | None:
        """The newest ``.deb`` of ``package`` already in the cache (also one put there by hand)."""
        found = sorted(self.debs.glob(f"{package}_*.deb"), key=lambda p: p.stat().st_mtime)
        return found[-1] if found else None

    def download(self, package: str) -> Path:
        """The package's ``.deb``, downloaded unless it is cached already."""
        cached = self.find_deb(package)
        if cached is not None:
            return cached
        apt_get = shutil.which("apt-get")
        if apt_get is None:
            raise DebianPackageError(
                f"apt-get is not installed, so {package} cannot be downloaded",
                hint=f"run this on Debian/Ubuntu, or put {package}_<version>_all.deb into {self.debs}",
            )
        self.debs.mkdir(parents=True, exist_ok=True)
        result = _run([apt_get, "download", package], cwd=self.debs)
        if result.returncode != 0 and self._is_unknown(result):
            # The system lists may be missing (slim images) or stale: try lists of our own.
            self._refresh_private_lists(apt_get)
            result = _run([apt_get, "download", *self._private_options(), package], cwd=self.debs)
        if result.returncode != 0:
            error = UnknownPackageError if self._is_unknown(result) else DebianPackageError
            raise error(f"apt-get download {package} failed: {_last_error(result)}")
        deb = self.find_deb(package)
        if deb is None:
            raise DebianPackageError(
                f"apt-get download {package} reported success but left no .deb in {self.debs}"
            )
        return deb

    @staticmethod
    def _is_unknown(result: subprocess.CompletedProcess[str]) -> bool:
        text = (result.stderr + result.stdout).lower()
        return any(marker in text for marker in _UNKNOWN_PACKAGE)

    def unpack(self, deb: Path, package: str) -> Path:
        """The folder ``deb`` is unpacked in; unpacked again only when the ``.deb`` changed."""
        target = self.root / package
        marker = target / _UNPACKED_MARKER
        if marker.is_file() and marker.read_text(encoding="utf-8") == deb.name:
            return target
        tool = shutil.which("dpkg") or shutil.which("dpkg-deb")
        if tool is None:
            raise DebianPackageError(
                f"dpkg is not installed, so {deb.name} cannot be unpacked",
                hint="run this on Debian/Ubuntu (dpkg -x needs no root)",
            )
        self.root.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".partial-{package}-", dir=self.root))  # one per process
        result = _run([tool, "-x", str(deb), str(partial)])
        if result.returncode != 0:
            shutil.rmtree(partial, ignore_errors=True)
            raise DebianPackageError(f"{Path(tool).name} -x {deb.name} failed: {_last_error(result)}")
        (partial / _UNPACKED_MARKER).write_text(deb.name, encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)  # in place only when complete
        return target

    def fetch(self, package: str) -> Path:
        """Download (if needed) and unpack (if needed) one package; returns the unpacked folder."""
        return self.unpack(self.download(package), package)

    def package_names(self, prefix: str) -> list[str]:
        """Names apt knows that start with ``prefix`` (system lists, then ours); [] if apt cannot tell."""
        apt_cache = shutil.which("apt-cache")
        if apt_cache is None:
            return []
        names: set[str] = set()
        option_sets = [[]] + ([self._private_options()] if (self._private / "lists").is_dir() else [])
        for options in option_sets:
            result = _run([apt_cache, *options, "pkgnames", prefix])
            if result.returncode == 0:
                names.update(line.strip() for line in result.stdout.splitlines() if line.strip())
        return sorted(names)


def deb_version(deb: Path) -> str:
    """The version in a ``name_version_arch.deb`` file name (``%3a`` is an epoch's colon)."""
    parts = deb.name.removesuffix(".deb").split("_")
    return parts[1].replace("%3a", ":") if len(parts) >= 3 else "unknown"
