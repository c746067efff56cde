"""Apertium unpacked from Debian packages into ``<cache>/apertium``: no root, not in the default install.

``babelrag models install apertium`` resolves the packages' dependencies with ``apt-cache
depends``, leaving out what the system already has, fetches the rest with ``apt-get download``
(apt checks every file against the archive's signed lists) and unpacks them with ``dpkg-deb -x``.
The ``.mode`` files name ``/usr/share/apertium``; they are rewritten to the install folder. The
build happens in a ``.partial-*`` folder, must translate a test sentence, and is renamed into
place only then: a half-installed Apertium is never used. Programs run with the folder's
``usr/bin`` first on PATH and its libraries on LD_LIBRARY_PATH, in their subprocess only.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from babelrag.agents.modelpack.registry import InstallOutcome
from babelrag.chains.apertium import INSTALL_HINT, ApertiumInstall, ApertiumTranslator
from babelrag.stores.errors import ModelNotInstalledError, ModelPackError
from babelrag.stores.progress import NullProgress, Progress

NAME = "apertium"
#: The engine and the pairs: es<->en, and fr, pt, it <-> es (English through Spanish).
PACKAGES = (
    "apertium", "lttoolbox", "cg3",
    "apertium-eng-spa", "apertium-fr-es", "apertium-es-pt", "apertium-spa-ita",
)  # fmt: skip
#: cg3 needs perl only for helper scripts the translation pipes never run; on a system without
#: perl these would add ~10 MB and their own dependencies.
NOT_NEEDED = re.compile(r"^(?:perl|perl-base|perl-modules-[\d.]+|libperl[\d.]+)$")
MANIFEST = "babelrag-apertium.json"
FORMAT = 1
SYSTEM_DATA = "/usr/share/apertium"
CHECK = ("es", "en", "la casa blanca", "white house")  # source, target, text, expected in the output

_DEPENDS = re.compile(r"^  (\|)?(?:Pre)?Depends: (\S+)$")
_PROVIDER = re.compile(r"^    (\S+)$")
_DEPENDS_OPTIONS = [
    f"--no-{kind}" for kind in ("recommends", "suggests", "conflicts", "breaks", "replaces", "enhances")
]


def apertium_folder(cache_dir: Path) -> Path:
    return cache_dir / NAME


def read_manifest(cache_dir: Path) -> dict[str, object] | None:
    folder = apertium_folder(cache_dir)
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and data.get("format") == FORMAT and (folder / "usr/bin/apertium").is_file()
    return data if ok else None


def installed_apertium(cache_dir: Path) -> ApertiumInstall | None:
    """Ours in the cache, else the system's (``apt install apertium-eng-spa``), else None."""
    manifest = read_manifest(cache_dir)
    if manifest is not None:
        return ApertiumInstall.unpacked(apertium_folder(cache_dir), version=str(manifest["fingerprint"]))
    return ApertiumInstall.system()


def load_apertium(cache_dir: Path) -> ApertiumTranslator:
    install = installed_apertium(cache_dir)
    if install is None:
        raise ModelNotInstalledError(
            f"Apertium is not installed (not in {apertium_folder(cache_dir)}, not on PATH)", hint=INSTALL_HINT
        )
    return ApertiumTranslator(install)


def install(cache_dir: Path, progress: Progress | None = None, *, force: bool = False) -> InstallOutcome:
    """Fetch, unpack and check Apertium into ``<cache>/apertium``; a no-op when it is there already."""
    progress = progress or NullProgress()
    final = apertium_folder(cache_dir)
    if "'" in str(final):
        raise ModelPackError(
            f"the cache folder {final} contains a quote, which Apertium's .mode files cannot hold"
        )
    started = time.monotonic()
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _lock(cache_dir / f".{NAME}.lock"):  # a second install waits, then finds it installed
        if read_manifest(cache_dir) is not None and not force:
            return InstallOutcome(NAME, final, "already installed", 0.0)
        for stale in [*cache_dir.glob(f".partial-{NAME}-*"), *cache_dir.glob(f".old-{NAME}-*")]:
            shutil.rmtree(stale, ignore_errors=True)
        partial = cache_dir / f".partial-{NAME}-{os.getpid()}"
        partial.mkdir()
        try:
            apt = Apt(cache_dir / "apt", progress)
            packages = resolve_packages(apt, PACKAGES)
            progress.log(f"fetching {len(packages)} Debian packages: {', '.join(packages)}")
            debs = apt.download(packages, partial / ".debs")
            facts = unpack(debs, partial, progress)
            check = _check(partial, facts["fingerprint"])
            rewrite_modes(
                partial / "usr/share/apertium",
                str(partial / "usr/share/apertium"),
                str(final / "usr/share/apertium"),
            )
            shutil.rmtree(partial / ".debs")
            manifest = {
                "name": NAME,
                "format": FORMAT,
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                **facts,
                "check": check,
                "licence": "GPL (see usr/share/doc/*/copyright)",
            }
            (partial / MANIFEST).write_text(
                json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
            _swap_in(partial, final)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    return InstallOutcome(NAME, final, "installed", time.monotonic() - started)


class Apt:
    """``apt-cache`` and ``apt-get download`` as a normal user; own package lists if the system has none."""

    def __init__(self, private: Path, progress: Progress) -> None:
        self.private = private
        self.progress = progress
        self.options: list[str] = []

    def run(
        self, tool: str, args: Sequence[str], cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        exe = shutil.which(tool)
        if exe is None:
            raise ModelPackError(
                f"{tool} is not installed: Apertium is fetched as Debian packages",
                hint="run this on Debian or Ubuntu, or install Apertium with your system's package manager",
            )
        env = {**os.environ, "LC_ALL": "C"}  # English messages, which we read
        return subprocess.run([exe, *self.options, *args], cwd=cwd, env=env, capture_output=True, text=True)

    def depends(self, names: Sequence[str]) -> str:
        result = self.run("apt-cache", ["depends", *_DEPENDS_OPTIONS, *names])
        if result.returncode != 0 and not self.options and "unable to locate" in result.stderr.lower():
            self._use_private_lists()  # slim images ship without package lists
            result = self.run("apt-cache", ["depends", *_DEPENDS_OPTIONS, *names])
        if result.returncode != 0:
            raise ModelPackError(f"apt-cache depends failed: {_last_line(result)}", hint=_MIRROR_HINT)
        return result.stdout

    def download(self, packages: Sequence[str], folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        result = self.run("apt-get", ["download", *packages], cwd=folder)
        if result.returncode != 0:
            raise ModelPackError(f"apt-get download failed: {_last_line(result)}", hint=_MIRROR_HINT)
        debs = sorted(folder.glob("*.deb"))
        missing = [p for p in packages if not any(d.name.startswith(f"{p}_") for d in debs)]
        if missing:
            raise ModelPackError(f"apt-get download left no .deb for {', '.join(missing)}")
        return debs

    def _use_private_lists(self) -> None:
        lists, cache = self.private / "lists", self.private / "cache"
        (lists / "partial").mkdir(parents=True, exist_ok=True)
        (cache / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        self.options = [
            "-o", f"Dir::State::Lists={lists}", "-o", f"Dir::Cache={cache}", "-o", "Debug::NoLocking=1",
        ]  # fmt: skip
        self.progress.log(f"the system has no package lists; fetching lists of our own into {lists}")
        result = self.run("apt-get", ["update"])
        if result.returncode != 0:
            raise ModelPackError(
                f"apt-get update into {lists} failed: {_last_line(result)}", hint=_MIRROR_HINT
            )


_MIRROR_HINT = "check that the Debian mirrors in /etc/apt/sources.list(.d) are reachable"


def resolve_packages(apt: Apt, roots: Sequence[str]) -> list[str]:
    """``roots`` and the packages they need that the system lacks (installed ones bring their own)."""
    chosen = list(roots)
    frontier = list(roots)
    while frontier:
        groups = list(dependency_groups(apt.depends(frontier)))
        installed = installed_packages({name for group in groups for name in group})
        frontier = []
        for group in groups:
            if not any(name in installed or name in chosen for name in group) and not NOT_NEEDED.match(
                group[0]
            ):
                chosen.append(group[0])
                frontier.append(group[0])
    return chosen


def dependency_groups(text: str) -> Iterator[list[str]]:
    """``apt-cache depends`` output as groups of alternatives (``|Depends``), a virtual package replaced
    by its providers; any one member of a group satisfies it."""
    groups: list[list[str]] = []
    continued = False
    for line in text.splitlines():
        if m := _DEPENDS.match(line):
            if not continued:
                groups.append([])
            groups[-1].append(m.group(2))
            continued = bool(m.group(1))
        elif (m := _PROVIDER.match(line)) and groups:
            groups[-1].append(m.group(1))
    for group in groups:
        concrete = [name.split(":")[0] for name in group if not name.startswith("<")]
        if concrete:
            yield list(dict.fromkeys(concrete))


def installed_packages(names: Iterable[str]) -> set[str]:
    names = list(names)
    if not names or shutil.which("dpkg-query") is None:
        return set()
    result = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\n", *names],
        capture_output=True,
        text=True,
        env={**os.environ, "LC_ALL": "C"},
    )  # exit status 1 when some are unknown; the known ones are still listed
    return {line.split()[0] for line in result.stdout.splitlines() if line.endswith(" installed")}


def unpack(debs: Sequence[Path], folder: Path, progress: Progress) -> dict[str, object]:
    """``dpkg-deb -x`` every package into ``folder``; returns what the manifest records of them."""
    tool = shutil.which("dpkg-deb") or shutil.which("dpkg")
    if tool is None:
        raise ModelPackError("dpkg is not installed, so the Debian packages cannot be unpacked")
    packages: dict[str, dict[str, str]] = {}
    with progress.task("unpacking Apertium", total=len(debs)) as task:
        for deb in debs:
            result = subprocess.run([tool, "-x", str(deb), str(folder)], capture_output=True, text=True)
            if result.returncode != 0:
                raise ModelPackError(f"{Path(tool).name} -x {deb.name} failed: {_last_line(result)}")
            name, version, _ = deb.name.removesuffix(".deb").split("_")
            digest = hashlib.sha256(deb.read_bytes()).hexdigest()
            packages[name] = {"version": version.replace("%3a", ":"), "sha256": digest}
            task.advance()
    data = folder / "usr/share/apertium"
    rewrite_modes(data, SYSTEM_DATA, str(data))
    fingerprint = hashlib.sha256(json.dumps(packages, sort_keys=True).encode()).hexdigest()[:12]
    modes = sorted(p.stem for p in (data / "modes").glob("*.mode"))
    return {"packages": packages, "fingerprint": fingerprint, "modes": modes}


def rewrite_modes(data_dir: Path, old: str, new: str) -> None:
    """Point the ``.mode`` pipelines at ``new`` instead of ``old`` (they are shell text, paths quoted)."""
    for mode in (data_dir / "modes").glob("*.mode"):
        text = mode.read_text(encoding="utf-8")
        if old in text.replace(f"'{old}/", ""):
            raise ModelPackError(f"{mode.name} names {old} outside quotes; babelrag cannot relocate it")
        mode.write_text(text.replace(f"'{old}/", f"'{new}/"), encoding="utf-8")


def _check(folder: Path, fingerprint: object) -> dict[str, str]:
    source, target, text, expected = CHECK
    translator = ApertiumTranslator(ApertiumInstall.unpacked(folder, version=str(fingerprint)), timeout_s=60)
    if not translator.supports(source, target):
        raise ModelPackError(
            f"the unpacked Apertium has no {source}-{target} mode, only {sorted(translator.install.modes())}"
        )
    output = translator.translate(text, source, target)
    if expected not in output.lower():
        raise ModelPackError(
            f"the unpacked Apertium translated {text!r} as {output!r}, expected {expected!r} in it"
        )
    return {"input": text, "output": output}


def _swap_in(partial: Path, final: Path) -> None:
    old = None
    if final.exists():
        old = final.with_name(f".old-{NAME}-{os.getpid()}")
        os.replace(final, old)
    os.replace(partial, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in (result.stderr + result.stdout).splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("E:")]
    return (errors or lines or [f"exit status {result.returncode}"])[-1]
