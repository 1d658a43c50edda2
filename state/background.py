"""Redis writes an answer does not wait for: counted after the response is on its way.

A cache hit is one Redis call; the usage meter's and an experiment's counters would be a second and a
third on its path. They go in the background instead, a bounded number at once (past it, a write is
dropped and logged: counters lag, answers don't), and shutdown awaits what is left.

    writes = BackgroundWrites("usage")
    writes.submit(lambda: meter.record(...))
    await writes.drain()
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from core.errors import StoreUnavailable

log = structlog.get_logger(__name__)


class BackgroundWrites:
    """Coroutines run as tasks of the running loop, at most ``limit`` at once; a Redis failure is
    already counted by the guard (``ragqa_redis_errors_total``) and only logged here."""

    def __init__(self, what: str, limit: int = 1000) -> None:
        self.what = what
        self.limit = limit
        self.dropped = 0
        self._pending: set[asyncio.Task[None]] = set()

    def submit(self, write: Callable[[], Awaitable[Any]]) -> None:
        if len(self._pending) >= self.limit:
            self.dropped += 1
            log.warning("background.write_dropped", what=self.what, pending=len(self._pending))
            return
        task = asyncio.get_running_loop().create_task(self._run(write))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _run(self, write: Callable[[], Awaitable[Any]]) -> None:
        try:
            await write()
        except StoreUnavailable as exc:
            log.warning("background.write_failed", what=self.what, error=exc.message)

    async def drain(self) -> None:
        """Waits for the writes still running (at shutdown, and in tests before reading the counters)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
