from __future__ import annotations

import pytest

from cli.eval_cmd import parse_mode
from core.errors import InvalidRequest
from core.settings import RetrievalSettings
from core.types import FusionSpec


def test_parse_modes() -> None:
    base = FusionSpec("rrf", 60)
    assert parse_mode("dense", base) == FusionSpec("dense", 60)
    assert parse_mode("rrf:k=20", base) == FusionSpec("rrf", 20)
    assert parse_mode("rrf:k=10:w=2/1", base) == FusionSpec("rrf", 10, 2.0, 1.0)
    assert parse_mode("rrf:w=2/1", base).label() == "rrf(k=60,w=2/1)"
    for bad in ("cosine", "rrf:k=x", "rrf:z=1", "convex:g=2", "convex:g=x", "convex:s=-1", "rrf:s=0.3",
                "convex:f=2/0.5", "convex:f=0.7/x", "rrf:f=0.7/0.25"):
        with pytest.raises(InvalidRequest):
            parse_mode(bad, base)


def test_modes_inherit_the_configured_gate_and_spread_floor_unless_told_otherwise() -> None:
    base = RetrievalSettings(lexical_gate=0.5, dense_spread_floor=0.35, flat_bm25_ratio=0).fusion_spec()
    assert parse_mode("convex:w=2/1", base).lexical_gate == 0.5
    assert parse_mode("convex:w=2/1", base).label() == "convex(w=2/1,gate=0.5,spread=0.35)"
    assert parse_mode("convex:w=2/1:g=0", base).label() == "convex(w=2/1,spread=0.35)"
    assert parse_mode("convex:w=2/1:g=0:s=0", base).label() == "convex(w=2/1)"
    assert parse_mode("convex:s=0.2", base).dense_spread_floor == 0.2
    # The spread floor is a convex-fusion setting: rank fusions ignore scores.
    assert parse_mode("rrf", base).dense_spread_floor == 0.0
    assert parse_mode("dbsf:g=0.3", base).label() == "dbsf(gate=0.3)"
    # The gate only means something where two lists are fused.
    assert parse_mode("dense", base).label() == "dense"


def test_convex_modes_inherit_the_flat_bm25_weighting_unless_told_otherwise() -> None:
    base = RetrievalSettings(lexical_gate=0.5, dense_spread_floor=0.35, flat_bm25_ratio=0.7,
                             flat_bm25_weight=0.25).fusion_spec()
    assert parse_mode("convex", base) == base
    assert base.label() == "convex(w=1/1,gate=0.5,spread=0.35,flat=0.7x0.25)"
    assert parse_mode("convex:f=0", base).label() == "convex(w=1/1,gate=0.5,spread=0.35)"
    assert parse_mode("convex:f=0.6/0.5", base).label() == "convex(w=1/1,gate=0.5,spread=0.35,flat=0.6x0.5)"
    assert not parse_mode("rrf", base).adaptive
