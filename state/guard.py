"""Redis calls that fail fast: short socket timeouts plus a circuit breaker.

When Redis is down, every request would otherwise wait for a connect timeout. After
``failures`` consecutive errors the breaker opens and calls are skipped outright (the cache
is bypassed, answers go out uncached); after ``reset_s`` one trial call goes through, and a
success closes it again.

    >>> breaker = CircuitBreaker(failures=2, reset_s=5.0, clock=lambda: 0.0)
    >>> breaker.failure(); breaker.failure(); breaker.state
    'open'
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

import structlog

from core.errors import StoreUnavailable
from state.metrics import StateMetrics
from state.topology import REDIS_OR_SOCKET_ERRORS, AsyncRedis

log = structlog.get_logger(__name__)
T = TypeVar("T")
BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Counts consecutive failures; open means "don't even try" until ``reset_s`` has passed.

    Example::

        if breaker.allow():
            try:
                call(); breaker.success()
            except ConnectionError:
                breaker.failure()
    """

    def __init__(self, failures: int = 3, reset_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = failures
        self.reset_s = reset_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False
        self._lock = threading.Lock()

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state()

    def _state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        return "half_open" if self._clock() - self._opened_at >= self.reset_s else "open"

    def allow(self) -> bool:
        with self._lock:
            state = self._state()
            if state == "closed":
                return True
            if state == "half_open" and not self._trial_running:
                self._trial_running = True  # exactly one trial call while half-open
                return True
            return False

    def release(self) -> None:
        """The call ended without telling anything about Redis (cancelled, or a bug): free the trial slot."""
        with self._lock:
            self._trial_running = False

    def success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_running = False

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            self._trial_running = False
            if self._failures >= self.threshold or self._opened_at is not None:
                self._opened_at = self._clock()


class GuardedRedis:
    """The API's asyncio Redis client behind the breaker; failures become ``StoreUnavailable``.

    Example::

        value = await guarded.call("cache_get", lambda: guarded.client.get(key))
    """

    def __init__(self, client: AsyncRedis, breaker: CircuitBreaker, metrics: StateMetrics) -> None:
        self.client = client
        self.breaker = breaker
        self.metrics = metrics

    async def call(self, op: str, fn: Callable[[], Awaitable[T]]) -> T:
        if not self.breaker.allow():
            self.metrics.redis_errors.labels(op=op, reason="circuit_open").inc()
            raise StoreUnavailable(f"Redis is unavailable (circuit open; {op} skipped)")
        try:
            result = await fn()
        except REDIS_OR_SOCKET_ERRORS as exc:
            self.breaker.failure()
            self.metrics.redis_errors.labels(op=op, reason=type(exc).__name__).inc()
            self.metrics.redis_breaker_open.set(1 if self.breaker.state != "closed" else 0)
            log.warning("redis.call_failed", op=op, error=str(exc), breaker=self.breaker.state)
            raise StoreUnavailable(f"Redis failed during {op}: {exc}") from exc
        except BaseException:
            self.breaker.release()
            raise
        self.breaker.success()
        self.metrics.redis_breaker_open.set(0)
        return result
