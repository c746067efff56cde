"""What a wheel holds: every sub-package of the four layers is listed in pyproject.toml.

An editable install finds an unlisted sub-package anyway, so only a test notices that
``pip install babelrag`` would ship without it.
"""

from __future__ import annotations

import tomllib

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.unit

LAYERS = ("agents", "chains", "stores", "prompts")


def test_every_subpackage_is_listed_for_the_wheel() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        "babelrag." + ".".join(init.parent.relative_to(REPO).parts)
        for layer in LAYERS
        for init in (REPO / layer).rglob("__init__.py")
    }
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
