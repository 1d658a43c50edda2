"""What answers cost, per caller and collection and UTC day, and the daily token quota of API keys.

    usage:<YYYY-MM-DD>   hash   "<caller>|<collection>|<metric>" -> count, and "<caller>|*|tokens"
                                (the caller's tokens that day, all collections: what a quota reads)

``<caller>`` is a principal's label (``key:ops-bot``, ``user:ana``, ``widget:widget visitor``,
``open:anonymous``); metrics: ``answers`` (served, cache hits included), ``cached``, ``tokens``,
``prompt_tokens``, ``completion_tokens`` and ``model_ms`` (the time spent making fresh answers: a cache
hit costs none; an extractive answer uses no tokens, but its time is counted). Kept in the Redis that
evicts nothing, ``redis.usage_ttl_days`` days.

The quota check is one ``HGET`` of that day's hash, made only for a key that has a quota (``ragqa keys
quota``); it compares what is already counted, so the answer that crosses the quota finishes, and the
next one is refused (429 ``quota_exceeded``) until 00:00 UTC. Redis down: let through, like the rate
limit (availability over strictness).

    >>> usage_field("key:ops-bot", "docs", "tokens")
    'key:ops-bot|docs|tokens'
    >>> seconds_to_midnight(datetime(2025, 1, 1, 23, 0, tzinfo=UTC))
    3600.0
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from core.errors import QuotaExceeded, StoreUnavailable
from state.guard import GuardedRedis
from state.keys import Keyspace
from state.topology import REDIS_ERRORS, SyncRedis

ALL = "*"  # the collection field of a caller's day total
METRICS = ("answers", "cached", "tokens", "prompt_tokens", "completion_tokens", "model_ms")


def usage_field(caller: str, collection: str, metric: str) -> str:
    return f"{caller}|{collection}|{metric}"


def day_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def seconds_to_midnight(moment: datetime) -> float:
    """Seconds from ``moment`` to the next 00:00 UTC, when a day's usage starts again."""
    now = moment.astimezone(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()


@dataclass(frozen=True, slots=True)
class Cost:
    """One served answer's cost (a cache hit: ``cached``, nothing else)."""

    cached: bool
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_ms: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class UsageMeter:
    """The API's meter over the guarded client of the durable Redis.

    Example::

        await meter.record("key:ops-bot", "docs", Cost(False, prompt_tokens=812, completion_tokens=14, model_ms=640))
        await meter.check_quota("key:ops-bot", 100_000)   # raises QuotaExceeded
    """

    def __init__(self, guarded: GuardedRedis, prefix: str, ttl_days: int,
                 clock: Any = lambda: datetime.now(UTC)) -> None:
        self.guarded = guarded
        self.keys = Keyspace(prefix)
        self.ttl_s = ttl_days * 24 * 3600
        self.clock = clock

    async def record(self, caller: str, collection: str, cost: Cost) -> None:
        key = self.keys.usage(day_of(self.clock()))
        counts = {"answers": 1, "cached": int(cost.cached), "tokens": cost.tokens,
                  "prompt_tokens": cost.prompt_tokens, "completion_tokens": cost.completion_tokens,
                  "model_ms": round(cost.model_ms)}  # fmt: skip

        async def write() -> None:
            pipe = self.guarded.client.pipeline(transaction=False)
            for metric, amount in counts.items():
                if amount:
                    pipe.hincrby(key, usage_field(caller, collection, metric), amount)
            if cost.tokens:
                pipe.hincrby(key, usage_field(caller, ALL, "tokens"), cost.tokens)
            pipe.expire(key, self.ttl_s)
            await pipe.execute()

        await self.guarded.call("usage_record", write)

    async def check_quota(self, caller: str, daily_tokens: int, name: str) -> None:
        """Raises ``QuotaExceeded`` when ``caller`` has used ``daily_tokens`` or more today (UTC)."""
        now = self.clock()
        key, field = self.keys.usage(day_of(now)), usage_field(caller, ALL, "tokens")
        try:
            used = await self.guarded.call("quota_check", lambda: self.guarded.client.hget(key, field))
        except StoreUnavailable:
            return
        spent = int(used or 0)
        if spent < daily_tokens:
            return
        wait = seconds_to_midnight(now)
        hours, minutes = divmod(math.ceil(wait / 60), 60)
        raise QuotaExceeded(f"API key {name!r} has used its daily quota of {daily_tokens} tokens ({spent} "
                            f"used today); it resets at 00:00 UTC, in {hours} h {minutes:02d} min", wait)  # fmt: skip


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One caller's use of one collection over some days."""

    caller: str
    collection: str
    counts: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"caller": self.caller, "collection": self.collection, **self.counts}


def iter_days(days: int, today: datetime | None = None) -> Iterator[str]:
    start = (today or datetime.now(UTC)).astimezone(UTC)
    for back in range(days):
        yield day_of(start - timedelta(days=back))


def read_usage(client: SyncRedis, prefix: str, days: int = 1, today: datetime | None = None) -> list[UsageRow]:
    """Each caller's use of each collection over the last ``days`` UTC days (today included), summed;
    the callers' day totals left out. Sorted by tokens, then answers (most first)."""
    keys = Keyspace(prefix)
    try:
        pipe = client.pipeline(transaction=False)
        for day in iter_days(days, today):
            pipe.hgetall(keys.usage(day))
        hashes = pipe.execute()
    except REDIS_ERRORS as exc:
        raise StoreUnavailable(f"could not read usage from Redis: {exc}") from exc
    totals: dict[tuple[str, str], dict[str, int]] = {}
    for raw in hashes:
        for field, value in (raw or {}).items():
            caller, collection, metric = (field.decode() if isinstance(field, bytes) else field).rsplit("|", 2)
            if collection == ALL or metric not in METRICS:
                continue
            counts = totals.setdefault((caller, collection), dict.fromkeys(METRICS, 0))
            counts[metric] += int(value)
    rows = [UsageRow(c, coll, counts) for (c, coll), counts in totals.items()]
    return sorted(rows, key=lambda r: (-r.counts["tokens"], -r.counts["answers"], r.caller, r.collection))
