"""``${...}`` references: parsing and resolution."""

from __future__ import annotations

import pytest

from babelrag.agents.scripting.templates import TemplateSyntaxError, resolve, split_template

pytestmark = pytest.mark.unit


class TestTemplates:
    def test_literal_dollar_brace(self) -> None:
        assert resolve("a $${b} ${vars.x}", {"vars": {"x": [1, "二"]}}) == 'a ${b} [1, "二"]'

    def test_bad_reference(self) -> None:
        with pytest.raises(TemplateSyntaxError):
            split_template("${q..answer}")
