"""A per-identity token-bucket rate limit, kept in Redis (``rl:{identity}`` in ``state.keys``).

    >>> take_token(None, now=0.0, rate_per_s=1.0, capacity=2.0)[0]
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.errors import RateLimited, StoreUnavailable
from state.guard import GuardedRedis
from state.keys import Keyspace
from state.metrics import StateMetrics


@dataclass(frozen=True, slots=True)
class BucketState:
    tokens: float
    at: float


def take_token(state: BucketState | None, now: float, rate_per_s: float,
               capacity: float) -> tuple[bool, BucketState, float]:
    """One request against a token bucket: (allowed, new state, seconds until a token is back).

    The bucket refills continuously at ``rate_per_s`` up to ``capacity`` (the burst); a new
    client starts full. ``_TAKE_LUA`` is the same arithmetic, run atomically inside Redis.
    """
    tokens = capacity if state is None else min(capacity, state.tokens + max(0.0, now - state.at) * rate_per_s)
    if tokens >= 1.0:
        return True, BucketState(tokens - 1.0, now), 0.0
    return False, BucketState(tokens, now), (1.0 - tokens) / rate_per_s


_TAKE_LUA = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = capacity
else
  tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
end
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return {allowed, tostring(retry)}
"""


class RateLimiter:
    """``per_minute`` sustained, ``burst`` at once, per identity; atomic in Redis (one round trip).

    Redis down: requests are let through (availability over strictness) and counted in
    ``ragqa_redis_errors_total``.

    Example::

        await limiter.check(identity)   # raises RateLimited with retry_after_s
    """

    def __init__(self, guarded: GuardedRedis, metrics: StateMetrics, *, prefix: str, per_minute: int,
                 burst: int) -> None:
        self.guarded = guarded
        self.metrics = metrics
        self.keyspace = Keyspace(prefix)
        self.rate_per_s = per_minute / 60.0
        self.capacity = float(burst)
        self.enabled = per_minute > 0
        self._take = guarded.client.register_script(_TAKE_LUA)

    async def check(self, identity: str) -> None:
        if not self.enabled:
            return
        key = self.keyspace.rate_limit(identity)
        try:
            allowed, retry = await self.guarded.call(
                "rate_limit", lambda: self._take(keys=[key], args=[self.rate_per_s, self.capacity])
            )
        except StoreUnavailable:
            return
        if int(allowed) != 1:
            retry_after = float(retry.decode() if isinstance(retry, bytes) else retry)
            self.metrics.rate_limited.inc()
            raise RateLimited(f"rate limit exceeded: retry in {math.ceil(retry_after)} s", retry_after)
