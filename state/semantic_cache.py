"""The semantic answer cache (off by default): a near-identical question reuses a cached answer.

Per scope (``core.answer_request.semantic_scope``: collection, filters, passage count, mode,
model, embedder, prompt version, options) and index version, a Redis hash maps each cached
question's fingerprint to its embedding (float32 bytes; named in ``state.keys``)::

    sem:{scope}:{version}   hash  fingerprint -> embedding; TTL ``redis.cache_ttl_s``

A lookup reads the hash and takes the most similar question; at or above the threshold its
exact-cache entry is the answer. A brute-force scan: fine for the few thousand questions a
scope holds (``redis.semantic_max_entries``). Paraphrases and *different* questions on the same
topic can sit close together, so the threshold is a precision trade-off: ``bench/api.py``
reports the hit rate on paraphrases and the wrong-hit rate on different questions.

    >>> unit = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    >>> best_match([b"q1", b"q2"], unit, 0.9, np.array([0.99, 0.14], dtype=np.float32))
    (b'q1', 0.9900000095367432)
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from core.errors import StoreUnavailable
from state.answer_cache import AnswerCache
from state.guard import GuardedRedis
from state.keys import Keyspace
from state.metrics import StateMetrics


def best_match(fields: Sequence[bytes], vectors: npt.NDArray[np.float32], threshold: float,
               query: npt.NDArray[np.float32] | None = None) -> tuple[bytes, float] | None:
    """The field whose vector is most similar to ``query`` (cosine; vectors are unit length)."""
    if query is None or len(fields) == 0 or vectors.size == 0:
        return None
    sims = vectors @ query
    best = int(np.argmax(sims))
    score = float(sims[best])
    return (fields[best], score) if score >= threshold else None


def _raw(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


class SemanticCache:
    """Looks up and records question embeddings beside the exact cache.

    Example::

        hit = await semantic.lookup(scope, version, vector)   # -> answer payload or None
        await semantic.add(scope, version, fp, vector)         # after a miss was answered
    """

    def __init__(self, guarded: GuardedRedis, exact: AnswerCache, metrics: StateMetrics, *, prefix: str,
                 threshold: float, max_entries: int, ttl_s: int) -> None:
        self.guarded = guarded
        self.exact = exact
        self.metrics = metrics
        self.keyspace = Keyspace(prefix)
        self.threshold = threshold
        self.max_entries = max_entries
        self.ttl_s = ttl_s

    def _key(self, scope: str, version: str) -> str:
        return self.keyspace.semantic(scope, version)

    async def lookup(self, scope: str, version: str, vector: npt.NDArray[np.float32]) -> dict[str, Any] | None:
        try:
            key = self._key(scope, version)
            entries = await self.guarded.call("semantic_scan", lambda: self.guarded.client.hgetall(key))
        except StoreUnavailable:
            self.metrics.cache.labels(kind="semantic", result="error").inc()
            return None
        fields = [_raw(f) for f in entries]
        matrix = (np.vstack([np.frombuffer(_raw(v), dtype=np.float32) for v in entries.values()])
                  if fields else np.zeros((0, 0), dtype=np.float32))
        match = best_match(fields, matrix, self.threshold, vector.astype(np.float32))
        if match is None:
            self.metrics.cache.labels(kind="semantic", result="miss").inc()
            return None
        fp = match[0].decode()
        payload = await self.exact.get_cached(fp, version)
        self.metrics.cache.labels(kind="semantic", result="hit" if payload else "miss").inc()
        if payload is not None:
            payload["semantic_similarity"] = round(match[1], 4)
        return payload

    async def add(self, scope: str, version: str, fp: str, vector: npt.NDArray[np.float32]) -> None:
        key = self._key(scope, version)

        async def write() -> None:
            if await self.guarded.client.hlen(key) >= self.max_entries:
                return  # full: the exact cache still serves repeats
            pipe = self.guarded.client.pipeline(transaction=False)
            pipe.hset(key, fp, vector.astype(np.float32).tobytes())
            pipe.expire(key, self.ttl_s)
            await pipe.execute()

        with contextlib.suppress(StoreUnavailable):
            await self.guarded.call("semantic_add", write)
