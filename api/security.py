"""API keys (stored as SHA-256 digests) and a per-key token-bucket rate limit kept in Redis.

    >>> keys = ApiKeys([hash_key("s3cret")])
    >>> keys.identify("s3cret") == hash_key("s3cret")
    True
    >>> take_token(None, now=0.0, rate_per_s=1.0, capacity=2.0)[0]
    True
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import structlog

from api.errors import RateLimited, Unauthorized
from api.metrics import Metrics
from api.redis_guard import GuardedRedis
from ingest.jobs import StoreUnavailable

log = structlog.get_logger(__name__)


def hash_key(key: str) -> str:
    """The digest to put in ``api.api_keys_sha256`` for a key (``ragqa serve --hash-key`` prints it)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key a client sent: ``Authorization: Bearer <key>`` (what OpenAI SDKs send) or ``X-API-Key``."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = headers.get("x-api-key")
    return key.strip() if key and key.strip() else None


class ApiKeys:
    """The configured keys; with none configured, authentication is off.

    Example::

        identity = keys.identify(presented_key(request.headers))   # raises Unauthorized
    """

    def __init__(self, digests: Sequence[str]) -> None:
        self._digests = [d.strip().lower() for d in digests if d.strip()]

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def identify(self, key: str | None) -> str:
        """The digest of a valid key (the caller's identity); compares in constant time."""
        if key is None:
            raise Unauthorized("an API key is required: send `Authorization: Bearer <key>` or `X-API-Key`")
        digest = hash_key(key)
        # Every digest is compared, match or not, so timing reveals nothing about which matched.
        matched = False
        for known in self._digests:
            matched |= hmac.compare_digest(digest, known)
        if not matched:
            raise Unauthorized("the API key is not valid")
        return digest


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

    def __init__(self, guarded: GuardedRedis, metrics: Metrics, *, prefix: str, per_minute: int, burst: int) -> None:
        self.guarded = guarded
        self.metrics = metrics
        self.prefix = prefix
        self.rate_per_s = per_minute / 60.0
        self.capacity = float(burst)
        self.enabled = per_minute > 0
        self._take = guarded.client.register_script(_TAKE_LUA)

    async def check(self, identity: str) -> None:
        if not self.enabled:
            return
        key = f"{self.prefix}rl:{identity}"
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
