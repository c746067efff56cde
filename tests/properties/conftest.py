"""Hypothesis settings for the property tests, and the count of generated inputs per input type.

Examples per test: ``BABELRAG_HYPOTHESIS_EXAMPLES`` (default 40, so the suite stays fast);
derandomized, so a run is reproducible and its figures too. With ``BABELRAG_PROPERTY_REPORT=FILE``
the number of inputs each type was tried with is written there at the end (README "Reliability").
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, settings

settings.register_profile(
    "babelrag",
    max_examples=int(os.environ.get("BABELRAG_HYPOTHESIS_EXAMPLES", "40")),
    deadline=None,  # a shared machine's load is no bug; hangs are caught by `bounded` instead
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)
settings.load_profile("babelrag")

TRIED: Counter[str] = Counter()


def pytest_sessionfinish(session, exitstatus) -> None:
    if TRIED and (path := os.environ.get("BABELRAG_PROPERTY_REPORT")):
        Path(path).write_text(json.dumps(dict(sorted(TRIED.items())), indent=2) + "\n", encoding="utf-8")
