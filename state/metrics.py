"""The metrics the Redis stores count into: a Protocol that ``api.metrics.Metrics`` satisfies.

The stores sit below the API, so they name what they use rather than import the API's class.
"""

from __future__ import annotations

from typing import Protocol

from prometheus_client import Counter, Gauge


class StateMetrics(Protocol):
    """Prometheus counters and a gauge, labelled as the API exports them at ``GET /metrics``.

    Example::

        metrics.cache.labels(kind="exact", result="hit").inc()
        metrics.redis_errors.labels(op="cache_get", reason="circuit_open").inc()
    """

    cache: Counter  # labels: kind (exact, semantic), result (hit, miss, error, bypass)
    cache_evictions: Counter  # labels: reason (document_deleted, down_vote)
    redis_errors: Counter  # labels: op, reason
    redis_breaker_open: Gauge
    rate_limited: Counter
