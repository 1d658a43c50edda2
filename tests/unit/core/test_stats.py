"""Percentiles: q in percent, numpy's linear interpolation, and nearest rank."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.stats import percentile

SAMPLES = [[7.0], [5.0, 1.0, 3.0], [1.0, 2.0, 3.0, 4.0], [0.3, 12.5, 4.25, 4.25, 9.0, 1.0, 100.0]]


@pytest.mark.parametrize("values", SAMPLES)
@pytest.mark.parametrize("q", [0, 5, 25, 50, 90, 95, 99, 100])
def test_linear_matches_numpy(values: list[float], q: float) -> None:
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


@pytest.mark.parametrize("values", SAMPLES)
@pytest.mark.parametrize("q", [0, 5, 25, 50, 90, 95, 99, 100])
def test_nearest_rank_matches_numpy_inverted_cdf(values: list[float], q: float) -> None:
    assert percentile(values, q, method="nearest_rank") == float(np.percentile(values, q, method="inverted_cdf"))


def test_nearest_rank_returns_an_observed_value() -> None:
    assert percentile([5.0, 1.0, 3.0], 50, method="nearest_rank") == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 95, method="nearest_rank") == 4.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0, method="nearest_rank") == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50, method="nearest_rank") == 2.0


def test_any_iterable_in_any_order() -> None:
    assert percentile(iter([4.0, 1.0, 3.0, 2.0]), 50) == 2.5


def test_no_values_is_nan() -> None:
    assert math.isnan(percentile([], 50))
    assert math.isnan(percentile([], 50, method="nearest_rank"))


@pytest.mark.parametrize("q", [-1, -0.5, 100.5])
def test_q_outside_0_to_100_is_rejected(q: float) -> None:
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0, 2.0], q)
