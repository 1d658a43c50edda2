"""Summary statistics shared by answer evaluation and the benchmarks.

``q`` is a percentage (0..100), as in ``numpy.percentile``:

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.5
    >>> percentile([1.0, 2.0, 3.0, 4.0], 95, method="nearest_rank")
    4.0
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

PercentileMethod = Literal["linear", "nearest_rank"]


def percentile(values: Iterable[float], q: float, *, method: PercentileMethod = "linear") -> float:
    """The ``q``-th percentile of ``values`` (``q`` in 0..100); NaN when there are no values.

    ``linear`` interpolates between the two closest ranks (numpy's default method);
    ``nearest_rank`` returns an observed value: the smallest one with at least ``q`` percent of
    the values at or below it.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be in 0..100, got {q}")
    ordered = sorted(values)
    if not ordered:
        return math.nan
    if method == "nearest_rank":
        rank = max(math.ceil(q / 100 * len(ordered)), 1)
        return ordered[rank - 1]
    position = (len(ordered) - 1) * (q / 100)
    lo = int(position)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (position - lo)
