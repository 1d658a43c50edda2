"""Where the tests run: the repository, its in-repo test data, and the rule for missing services.

    >>> require(shutil.which("redis-server") is not None, "the redis-server binary on PATH")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# A licensed subset of cmu-qa-dev shipped with the tests (see its README.md): the tests read nothing
# outside the repository. The full set, beside the checkout, is for benchmarks and evaluations only.
CMU_QA_DEV = REPO / "tests" / "data" / "cmu-qa-dev"


def require(condition: bool, reason: str) -> None:
    """A missing service or asset fails the test in CI and skips it (with the reason) elsewhere."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required for this test in CI: {reason}")
    pytest.skip(reason)
