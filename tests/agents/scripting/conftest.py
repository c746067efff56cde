"""Fixtures of the scripting tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.agents.scripting.helpers import REPO


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    """A copy of examples/ (scripts and the sample KB), so runs write their outputs there."""
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    return tmp_path / "examples" / "scripts"
