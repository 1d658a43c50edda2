from __future__ import annotations

import pytest

from cli.eval_cmd import parse_mode
from core.errors import InvalidRequest
from core.types import FusionSpec


def test_parse_modes() -> None:
    base = FusionSpec("rrf", 60)
    assert parse_mode("dense", base) == FusionSpec("dense", 60)
    assert parse_mode("rrf:k=20", base) == FusionSpec("rrf", 20)
    assert parse_mode("rrf:k=10:w=2/1", base) == FusionSpec("rrf", 10, 2.0, 1.0)
    assert parse_mode("rrf:w=2/1", base).label() == "rrf(k=60,w=2/1)"
    for bad in ("cosine", "rrf:k=x", "rrf:z=1"):
        with pytest.raises(InvalidRequest):
            parse_mode(bad, base)
