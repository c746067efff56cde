"""Fakes for the model pack's tests: wheels that carry parts of a file, a progress that records."""

from __future__ import annotations

import hashlib
import zipfile
from contextlib import AbstractContextManager
from pathlib import Path

from babelrag.agents.modelpack.parts import PartedFile
from babelrag.agents.modelpack.wheels import WheelSpec
from babelrag.stores.progress import NullProgress, ProgressTask


def make_wheels(folder: Path, members: list[str], parts: list[bytes]) -> list[Path]:
    """One wheel per part, each with an ``__init__`` that must never run."""
    folder.mkdir(parents=True, exist_ok=True)
    wheels = []
    for i, (member, data) in enumerate(zip(members, parts, strict=True), start=1):
        wheel = folder / f"fake_part{i}-0.9.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(f"{member.split('/')[0]}/__init__.py", "raise SystemExit('never imported')\n")
            zf.writestr(member, data)
        wheels.append(wheel)
    return wheels


def parted_file(folder: Path, whole: bytes, parts: int = 3) -> tuple[PartedFile, list[Path]]:
    """Split ``whole`` over fake wheels in ``folder``; the spec pins their real hashes."""
    step = -(-len(whole) // parts)
    chunks = [whole[i * step : (i + 1) * step] for i in range(parts)]
    members = [f"fake_part{i}/data/part{i:02d}.bin" for i in range(1, parts + 1)]
    wheels = make_wheels(folder, members, chunks)
    specs = tuple(
        WheelSpec(f"fake-part{i}", "0.9.0", w.name, hashlib.sha256(w.read_bytes()).hexdigest())
        for i, w in enumerate(wheels, start=1)
    )
    spec = PartedFile(specs, tuple(members), hashlib.sha256(whole).hexdigest(), len(whole))
    return spec, wheels


def tiny_gguf(path: Path, *, chat_template: str | None = "{{ messages[0].content }}") -> bytes:
    """A real (tiny) GGUF file, so the metadata reader is exercised, not mocked."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), "qwen2")
    writer.add_name("tiny-test-model")
    writer.add_context_length(64)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_K_M)
    writer.add_token_list(["<|im_start|>", "hello", "wörld", ""])  # arrays the reader skips
    writer.add_token_scores([0.0, -1.5, -2.5, -3.0])
    writer.add_array("test.nested", [[1, 2], [3]])
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    writer.add_eos_token_id(3)
    writer.add_tensor("token_embd.weight", np.arange(32, dtype=np.float32).reshape(4, 8))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    data = path.read_bytes()
    path.unlink()
    return data


class RecordingProgress(NullProgress):
    def __init__(self) -> None:
        self.tasks: list[tuple[str, float | None]] = []
        self.logs: list[str] = []

    def task(self, description: str, total: float | None = None) -> AbstractContextManager[ProgressTask]:
        self.tasks.append((description, total))
        return super().task(description, total)

    def log(self, message: str) -> None:
        self.logs.append(message)
