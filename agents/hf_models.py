"""How the composition root loads Hugging Face models: the embedder (fp32 torch, or an int8 ONNX
graph built from it once and cached), the generator, a translator.

Only :mod:`babelrag.agents.runtime` calls these (and the test session's fixtures, which share the
models they load); every failure becomes a :class:`ModelError` that says what to check.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babelrag.stores.errors import ModelError
from babelrag.stores.progress import NullProgress, Progress

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from babelrag.agents.config import Settings
    from babelrag.stores.embeddings import OnnxSentenceEncoder


def quiet_hf_logging() -> None:
    """Hugging Face progress bars and warnings would drown our own output."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    except ImportError:  # pragma: no cover
        pass


def resolve_dtype(wanted: str, device: str) -> str:
    """The generator's dtype: ``auto`` takes bfloat16 only where it is computed natively.

    bf16 halves the bytes read per token, which is what decoding waits for, but on a CPU without
    bf16 instructions (AVX2-only x86, for one) PyTorch emulates it and a matmul runs ~100x slower
    than in float32. oneDNN's own check says whether its fast bf16 kernels can run.
    """
    if wanted != "auto":
        return wanted
    import torch

    if device.startswith("cuda"):
        return "bfloat16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "float16"
    if device.startswith("mps"):
        return "float16"
    try:
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # not built with oneDNN, or the op was renamed
        native = False
    return "bfloat16" if native else "float32"


def load_causal_lm(location: str, settings: Settings):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    g = settings.generation
    torch.set_num_threads(g.threads or physical_cores())
    dtype = getattr(torch, resolve_dtype(g.dtype, settings.models.device))
    local = Path(location).exists()
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=local)
        model = AutoModelForCausalLM.from_pretrained(location, dtype=dtype, local_files_only=local)
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"cannot load the generator {location!r}: {exc}",
            hint="check models.generator: a babelrag/ pack name, a Hugging Face id or a model folder",
        ) from exc
    if getattr(tokenizer, "chat_template", None) is None:
        raise ModelError(
            f"the generator {location!r} has no chat template",
            hint="use an instruction-tuned (chat) model",
        )
    return model.to(settings.models.device).eval(), tokenizer


def load_seq2seq(location: str, device: str):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    local = Path(location).exists()
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=local)
        model = AutoModelForSeq2SeqLM.from_pretrained(location, local_files_only=local)
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"cannot load the translation model {location!r}: {exc}",
            hint="translation.model must be an encoder-decoder translation model (MarianMT, NLLB, M2M100)",
        ) from exc
    return model.to(device).eval(), tokenizer


def translation_pair(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    source, sep, target = value.partition("-")
    if not sep or not source or not target:
        raise ModelError(f"translation.model_pair must look like zh-en, got {value!r}")
    return source.lower(), target.lower()


def load_sentence_transformer(
    location: str,
    device: str,
    *,
    backend: str = "torch",
    cache_dir: Path | None = None,
    progress: Progress | None = None,
) -> SentenceTransformer | OnnxSentenceEncoder:
    """The embedding model on ``backend``: ``torch`` (fp32) or ``onnx-int8`` (ONNX Runtime, CPU).

    ``onnx-int8`` builds the int8 graph from the fp32 model the first time (see
    :func:`build_onnx_int8`) and caches it under ``cache_dir``.
    """
    if backend == "onnx-int8":
        if not device.startswith("cpu"):
            raise ModelError(
                f"models.embedding_backend = onnx-int8 runs on the CPU, but models.device is {device!r}",
                hint="set models.embedding_backend = torch to embed on that device",
            )
        if cache_dir is None:
            raise ModelError("the onnx-int8 embedding backend needs a cache folder for its graph")
        return load_onnx_int8(location, cache_dir, progress or NullProgress())
    if backend != "torch":
        raise ModelError(f"unknown embedding backend {backend!r}", hint="use torch or onnx-int8")
    return _sentence_transformer(location, device=device)


def embedder_id(model_id: str, backend: str) -> str:
    """The id a knowledge base records for vectors of ``model_id`` on ``backend``: int8 ones differ.

    Measured on Debian Reference (426 English sections in 990 chunks; 395 German and 412 Chinese
    title queries, exact search): int8 vectors are close to fp32 ones (cosine min 0.992, mean
    0.997) and a knowledge base embedded and searched in int8 ranks as well as fp32 (MRR@10 -0.008
    German, +0.05 Chinese), but mixing is not within the 0.01 MRR@10 we tolerate: int8 queries on
    an fp32 index lose 0.005 (German) and 0.02 (Chinese). So the backends get different ids, and a
    knowledge base built with one refuses the other instead of quietly ranking worse. The int8
    presets of different CPUs (s8 or u8 weights) mix within tolerance (+0.007, -0.005) and share
    one id, so a knowledge base moves between machines.
    """
    return model_id if backend == "torch" else f"{model_id}@{backend}"


def _sentence_transformer(location: str, **kwargs: Any) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer

    local = Path(location).exists()
    try:
        return SentenceTransformer(location, local_files_only=local, **kwargs)
    except OSError as exc:
        raise ModelError(
            f"cannot load the embedding model {location!r}: {exc}",
            hint="check the name, your network (for Hugging Face ids) or run `babelrag models install`",
        ) from exc


# -- the int8 ONNX embedder -------------------------------------------------------------------
#: Bumped when the export changes: the cache folder's name holds it, so old graphs are not reused.
ONNX_RECIPE = 1
ONNX_MANIFEST = "babelrag-onnx.json"
#: Weight type of the dynamic quantization per CPU, as in Optimum's presets that
#: sentence-transformers uses (activations u8 per batch, weights symmetric, per channel): s8
#: weights where the CPU multiplies u8 by s8 into 32 bits (VNNI; ARM's dot products), u8 weights
#: elsewhere, because AVX2's u8 x s8 multiply-add saturates at 16 bits.
INT8_WEIGHTS = {"avx512_vnni": "QInt8", "avx_vnni": "QInt8", "arm64": "QInt8", "avx2": "QUInt8"}
#: The build embeds these with the fp32 model and the int8 graph; below this cosine it refuses.
MIN_BUILD_COSINE = 0.95
_PROBES = (
    "query: How tall are the towers of Cologne Cathedral?",
    "query: 绿茶应该用多少度的水冲泡？",
    "passage: Der Kölner Dom ist eine römisch-katholische Kirche in Köln; seine Türme sind 157 m hoch.",
    "passage: La cathédrale de Cologne est l'une des plus grandes cathédrales gothiques du monde.",
    "passage: apt-get install installs a package together with the packages it depends on.",
)

Exporter = Callable[[str, Path, str, Progress], dict[str, Any]]


def int8_target(cpu_flags: Iterable[str] | None = None, machine: str | None = None) -> str:
    """Which quantization preset fits this CPU: a key of :data:`INT8_WEIGHTS`."""
    if (machine or platform.machine()).lower() in ("arm64", "aarch64"):
        return "arm64"
    flags = set(_cpu_flags() if cpu_flags is None else cpu_flags)
    return next((t for t in ("avx512_vnni", "avx_vnni") if t in flags), "avx2")


def _cpuinfo() -> str:
    """The kernel's CPU description ("" where there is none, e.g. not Linux)."""
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _cpu_flags() -> set[str]:
    found = re.search(r"^flags\s*:(.*)$", _cpuinfo(), re.MULTILINE)
    return set(found.group(1).split()) if found else set()


def onnx_int8_folder(location: str, cache_dir: Path, target: str) -> Path:
    """``<cache>/onnx/<model>-<target>-<digest>``: one complete folder per source, CPU preset and recipe.

    The digest covers a local model's path and each file's size and modification time (a hub
    id: the id), so a reinstalled or edited model gets a new graph instead of a stale one.
    """
    path = Path(location).expanduser()
    if path.is_dir():
        files = sorted(f for f in path.rglob("*") if f.is_file() and not f.name.startswith("."))
        source: list[Any] = [str(path.resolve())]
        source += [(f.relative_to(path).as_posix(), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    else:
        source = [location]
    digest = hashlib.sha256(json.dumps([ONNX_RECIPE, target, source]).encode()).hexdigest()[:12]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.name if path.is_dir() else location).strip("-.")
    return cache_dir / "onnx" / f"{name or 'model'}-{target}-{digest}"


def load_onnx_int8(location: str, cache_dir: Path, progress: Progress) -> OnnxSentenceEncoder:
    """The int8 graph of ``location`` for this CPU, built and cached the first time."""
    target = int8_target()
    folder = onnx_int8_folder(location, cache_dir, target)
    if not (folder / ONNX_MANIFEST).exists():
        build_onnx_int8(location, folder, target, progress)
    return open_onnx_encoder(folder)


def build_onnx_int8(
    location: str, folder: Path, target: str, progress: Progress, *, exporter: Exporter | None = None
) -> None:
    """Build into ``.partial-<name>`` next to ``folder`` and rename it into place once its manifest
    is written, so ``folder`` is complete or absent. A lock makes a second process wait for the
    first build and use it instead of building again (and lets a build clear a crashed one's files)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(folder.parent / f".{folder.name}.lock", progress):
        if (folder / ONNX_MANIFEST).exists():
            return
        partial = folder.parent / f".partial-{folder.name}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        try:
            progress.log(f"building the int8 ONNX embedder for this CPU ({target}) once, into {folder}")
            manifest = (exporter or export_onnx_int8)(location, partial, target, progress)
            (partial / ONNX_MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
            shutil.rmtree(folder, ignore_errors=True)  # only ever a folder without a manifest
            os.replace(partial, folder)
        finally:
            shutil.rmtree(partial, ignore_errors=True)


@contextmanager
def _file_lock(path: Path, progress: Progress) -> Iterator[None]:
    with path.open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress.log("another process is building the int8 ONNX embedder; waiting for it")
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def export_onnx_int8(location: str, out_dir: Path, target: str, progress: Progress) -> dict[str, Any]:
    """Export the fp32 model to ONNX (transformer, pooling and normalisation in one graph),
    quantize it dynamically to int8, save the tokenizer, and check the result against fp32."""
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:  # pragma: no cover - dependencies of the project
        raise ModelError(
            f"the onnx-int8 embedding backend needs onnx and onnxruntime: {exc}",
            hint="pip install onnx onnxscript onnxruntime",
        ) from exc

    # eager attention exports as plain matrix products, which quantize; the weights stay fp32 here
    model = _sentence_transformer(location, device="cpu", model_kwargs={"attn_implementation": "eager"})
    fp32 = out_dir / "model_fp32.onnx"
    with progress.task("exporting the embedder to ONNX"), _quiet_logging():
        _export_sentence_graph(model, fp32)
    weights = INT8_WEIGHTS[target]
    file_name = f"model_{weights.lower()}_{target}.onnx"
    with progress.task(f"quantizing it to int8 ({target})"), _quiet_logging():
        quantize_dynamic(
            fp32,
            out_dir / file_name,
            per_channel=True,
            weight_type=getattr(QuantType, weights),
            extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
        )
    fp32.unlink()
    model.tokenizer.save_pretrained(out_dir)
    manifest: dict[str, Any] = {
        "source": location,
        "recipe": ONNX_RECIPE,
        "target": target,
        "weights": weights,
        "file": file_name,
        "dimension": int(model.get_embedding_dimension()),
        "max_seq_length": int(model.max_seq_length),
        "prompts": dict(model.prompts),
    }
    encoder = open_onnx_encoder(out_dir, manifest)
    reference = model.encode(list(_PROBES), normalize_embeddings=True, convert_to_numpy=True)
    cosine = float((encoder.encode(list(_PROBES), normalize_embeddings=True) * reference).sum(axis=1).min())
    if cosine < MIN_BUILD_COSINE:
        raise ModelError(
            f"the int8 graph of {location!r} differs from the fp32 model (cosine {cosine:.3f})",
            hint="set models.embedding_backend = torch for this model",
        )
    versions = {name: metadata.version(name) for name in ("torch", "onnx", "onnxruntime")}
    built_at = datetime.now(UTC).isoformat(timespec="seconds")
    return {**manifest, "min_probe_cosine": round(cosine, 6), "built_at": built_at, "versions": versions}


def _export_sentence_graph(model: SentenceTransformer, path: Path) -> None:
    import torch

    class SentenceGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            features = self.model({"input_ids": input_ids, "attention_mask": attention_mask})
            return features["sentence_embedding"]

    sample = model.tokenizer(["query: a", "passage: a few more words"], padding=True, return_tensors="pt")
    batch, tokens = torch.export.Dim("batch"), torch.export.Dim("tokens", max=model.max_seq_length)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            SentenceGraph().eval(),
            (sample["input_ids"], sample["attention_mask"]),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["sentence_embedding"],
            dynamic_shapes=({0: batch, 1: tokens}, {0: batch, 1: tokens}),
            dynamo=True,
            external_data=False,
            verbose=False,
        )


@contextmanager
def _quiet_logging() -> Iterator[None]:
    """The exporter logs operators it skips (torchvision's), and onnxruntime's quantizer calls
    ``logging.warning``, which configures the root logger and prints advice meant for its own
    examples; a level for the one and a handler of our own for the other keep both quiet."""
    import logging

    handler, exporter = logging.NullHandler(), logging.getLogger("torch.onnx")
    level = exporter.level
    logging.root.addHandler(handler)
    exporter.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logging.root.removeHandler(handler)
        exporter.setLevel(level)


def open_onnx_encoder(folder: Path, manifest: dict[str, Any] | None = None) -> OnnxSentenceEncoder:
    import onnxruntime as ort

    from babelrag.stores.embeddings import FastTokenizer, OnnxSentenceEncoder

    try:
        manifest = manifest or json.loads((folder / ONNX_MANIFEST).read_text(encoding="utf-8"))
        session = ort.InferenceSession(str(folder / manifest["file"]), providers=["CPUExecutionProvider"])
        tokenizer = FastTokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception as exc:  # onnxruntime's errors are plain Exception subclasses
        raise ModelError(
            f"cannot load the int8 ONNX embedder in {folder}: {exc}",
            hint="delete that folder; the next run builds it again",
        ) from exc
    return OnnxSentenceEncoder(
        session,
        tokenizer,
        dimension=manifest["dimension"],
        max_seq_length=manifest["max_seq_length"],
        prompts=manifest["prompts"],
    )


def physical_cores() -> int:
    """Cores, not hardware threads: two threads of one core share its vector units, and a
    generator's matrix work slows down when both compete for them."""
    text = _cpuinfo()
    cores: set[tuple[str, str]] = set()
    physical = core = ""
    for line in [*text.splitlines(), ""]:
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "physical id":
            physical = value
        elif key == "core id":
            core = value
        elif not key and core:
            cores.add((physical, core))
            physical = core = ""
    return len(cores) or os.cpu_count() or 1


def gguf_file(location: str) -> Path | None:
    """The GGUF file a model location names: the file itself, or the one ``.gguf`` in a folder."""
    path = Path(location)
    if path.is_file():
        return path if path.suffix.lower() == ".gguf" else None
    if not path.is_dir():
        return None
    found = sorted(path.glob("*.gguf"))
    if len(found) > 1:
        names = ", ".join(f.name for f in found)
        raise ModelError(f"{path} holds several GGUF files ({names})", hint="name the file itself")
    return found[0] if found else None


def choose_engine(wanted: str, location: str) -> str:
    """``auto``: llama.cpp for a GGUF, transformers otherwise; a mismatch is an error saying why."""
    gguf = gguf_file(location)
    if wanted == "auto":
        return "llama.cpp" if gguf else "transformers"
    if wanted == "llama.cpp" and gguf is None:
        raise ModelError(
            f"generation.engine = llama.cpp needs a GGUF file, but {location!r} is not one",
            hint="set models.generator to a .gguf file or a babelrag/...-gguf pack model, or engine = auto",
        )
    if wanted == "transformers" and gguf is not None and not (Path(location) / "config.json").exists():
        raise ModelError(
            f"{location!r} is a GGUF model, which the transformers engine does not run",
            hint="set generation.engine = auto (llama.cpp runs GGUF files)",
        )
    return wanted


def load_llama(path: Path, *, context_tokens: int, threads: int | None):
    """A llama.cpp context on a GGUF file. Several contexts on one file share its weights (mmap)."""
    try:
        from llama_cpp import Llama
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise ModelError(
            "the llama.cpp engine needs llama-cpp-python", hint="pip install llama-cpp-python"
        ) from exc
    n = threads or physical_cores()
    try:
        return Llama(
            model_path=str(path),
            n_ctx=context_tokens,
            n_threads=n,
            n_threads_batch=n,
            verbose=False,
        )
    except (ValueError, RuntimeError) as exc:
        raise ModelError(
            f"llama.cpp cannot load {path}: {exc}",
            hint="check that the file is a complete GGUF (`babelrag models install` verifies the pack's)",
        ) from exc
