"""The Redis answer cache, and answer records kept for feedback.

Keys (all under the configured prefix; named in ``state.keys``)::

    ans:{fingerprint}             b"<index version>\n<answer JSON>"; TTL ``redis.cache_ttl_s``
    cite:{collection}:{doc_id}    set of the cached answers and answer records that cite the document
                                  (erased with it: ``state.erasure``)
    answer:{answer_id}            the answer as served, for feedback, plus where it is cached
                                  (``"cache": {fingerprint, scope, version}``); TTL ``redis.answer_ttl_s``

The fingerprint is ``core.answer_request.answer_key``: the normalized question, the collection,
filters, the conversation (for ``/chat``) and what the request resolves to (passage count, mode,
model, prompt version, generation options). The index version is the
collection's token, which the index itself moves on every write (``retrieval.versions``),
whichever process wrote: an entry written under another token is a miss (and is overwritten by
the fresh answer), so an answer cached before an ingest or delete is never served. A lookup is
the token (from the index's memory: embedded stores, and a server's within
``qdrant.version_ttl_s``; else read in a thread) and one ``GET``.

A down-voted answer leaves the cache at once (``evict``): its record names its cache entry, and the
entry goes only while it still holds that answer (a newer answer to the same question stays).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import structlog

from core.errors import RagqaError, StoreUnavailable
from retrieval.versions import VersionSource
from state.guard import GuardedRedis
from state.keys import Keyspace
from state.metrics import StateMetrics

log = structlog.get_logger(__name__)

# Deletes the entry only if it still holds the answer the caller names: the compact JSON we wrote has
# exactly one unescaped `"answer_id":"<hex>"` (a string value's quotes are escaped, so none can mimic it).
_EVICT_LUA = """
local entry = redis.call('GET', KEYS[1])
if entry and string.find(entry, ARGV[1], 1, true) then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""


def split_entry(entry: bytes | str | None, version: str) -> bytes | None:
    """The answer JSON of a cache entry if it was written under ``version``, else None (stale)."""
    if entry is None:
        return None
    stored, sep, raw = (entry.encode() if isinstance(entry, str) else entry).partition(b"\n")
    return raw if sep and stored.decode() == version else None


def mark_cached(raw: bytes, cache_ms: float) -> bytes | None:
    """A stored answer's JSON as served from the cache: ``cached`` true, ``timings_ms`` this lookup's.

    Patches the bytes instead of parsing and re-serializing (most of a hit's cost otherwise). Safe
    because we wrote them: compact separators, one top-level ``"cached":false`` (quotes inside
    strings are escaped, so no value can contain it) and ``timings_ms`` last, a flat object of
    numbers. None when the layout is not that (the caller then parses).
    """
    cut = raw.rfind(b',"timings_ms":{')
    if cut < 0 or not raw.endswith(b"}}") or raw.count(b'"cached":false') != 1:
        return None
    head = raw[:cut].replace(b'"cached":false', b'"cached":true', 1)
    return head + b',"timings_ms":{"cache":' + f"{cache_ms:.3f}".encode() + b"}}"


@dataclass(slots=True)
class Lookup:
    """The outcome of a cache lookup: the stored JSON on a hit; the version to store under on a miss."""

    raw: bytes | None
    version: str | None  # None: the cache is bypassed (Redis down, or the index version unreadable)

    @property
    def payload(self) -> dict[str, Any] | None:
        return json.loads(self.raw) if self.raw is not None else None


class AnswerCache:
    """Exact-match answer cache plus answer records, over the guarded async client.

    ``versions`` is the index (``retrieval.versions.VersionSource``): the cache reads tokens,
    it never moves them.

    Example::

        found = await cache.lookup(fp, "docs")
        if found.payload is None:
            payload = ...  # answer it
            await cache.save(fp, "docs", found.version, payload, cited_doc_ids)
    """

    def __init__(self, guarded: GuardedRedis, versions: VersionSource, metrics: StateMetrics, *, prefix: str,
                 ttl_s: int, answer_ttl_s: int, enabled: bool = True) -> None:
        self.guarded = guarded
        self.versions = versions
        self.metrics = metrics
        self.keyspace = Keyspace(prefix)
        self.ttl_s = ttl_s
        self.answer_ttl_s = answer_ttl_s
        self.enabled = enabled
        self._evict = guarded.client.register_script(_EVICT_LUA)

    def answer_key(self, fp: str) -> str:
        return self.keyspace.cached_answer(fp)

    async def version(self, collection: str) -> str | None:
        """The collection's index version now; None when the index cannot say (then don't cache)."""
        token = self.versions.cached_version(collection)
        if token is not None:
            return token  # the common case: no I/O, no thread hop
        try:
            return await anyio.to_thread.run_sync(self.versions.version, collection)
        except RagqaError as exc:
            log.warning("cache.version_unreadable", collection=collection, code=exc.code, error=exc.message)
            return None

    async def lookup(self, fp: str, collection: str) -> Lookup:
        # The version is read before the answer is computed: if a write lands meanwhile, the answer is
        # stored under the token it replaced, which no lookup asks for again.
        version = await self.version(collection) if self.enabled else None
        if version is None:
            if self.enabled:
                self.metrics.cache.labels(kind="exact", result="bypass").inc()
            return Lookup(None, None)
        try:
            entry = await self.guarded.call("cache_lookup", lambda: self.guarded.client.get(self.answer_key(fp)))
        except StoreUnavailable:
            self.metrics.cache.labels(kind="exact", result="error").inc()
            return Lookup(None, None)
        raw = split_entry(entry, version)
        self.metrics.cache.labels(kind="exact", result="hit" if raw is not None else "miss").inc()
        return Lookup(raw, version)

    async def get_cached(self, fp: str, version: str) -> dict[str, Any] | None:
        """The payload cached for ``fp`` under ``version`` (the semantic cache's second step)."""
        try:
            entry = await self.guarded.call("cache_get", lambda: self.guarded.client.get(self.answer_key(fp)))
        except StoreUnavailable:
            return None
        raw = split_entry(entry, version)
        return json.loads(raw) if raw is not None else None

    async def save(self, fp: str | None, collection: str, version: str | None, payload: dict[str, Any],
                   cited_doc_ids: Sequence[str], scope: str = "") -> None:
        """Keeps the answer record (for feedback) and, when ``version`` is known, the cache entry.
        ``scope``: the semantic cache's, when it will index the question too (so a down-vote reaches it)."""
        data = json.dumps(payload, separators=(",", ":"))
        cache_it = self.enabled and fp is not None and version is not None
        # The record names its cache entry, so feedback can evict it (the payload served stays as is).
        kept = json.dumps({**payload, "cache": {"fingerprint": fp, "scope": scope, "version": version}},
                          separators=(",", ":")) if cache_it else data

        async def write() -> None:
            pipe = self.guarded.client.pipeline(transaction=False)
            record = self.keyspace.answer_record(payload["answer_id"])
            pipe.set(record, kept, ex=self.answer_ttl_s)
            # The citation sets list every copy of a document's text here, for erasure (state.erasure).
            held = [record, self.answer_key(fp)] if cache_it and fp is not None else [record]
            if cache_it:
                assert fp is not None and version is not None
                pipe.set(held[1], f"{version}\n{data}", ex=self.ttl_s)
            for doc_id in set(cited_doc_ids):
                pipe.sadd(self.keyspace.citations(collection, doc_id), *held)
                pipe.expire(self.keyspace.citations(collection, doc_id), max(self.ttl_s, self.answer_ttl_s))
            await pipe.execute()

        # Uncached on failure: the answer is served anyway; the breaker and a metric record the outage.
        with contextlib.suppress(StoreUnavailable):
            await self.guarded.call("cache_save", write)

    async def answer_record(self, answer_id: str) -> dict[str, Any] | None:
        """The answer as served, with ``cache`` (where it is cached: ``fingerprint``, ``scope``,
        ``version``) when it was; raises StoreUnavailable when Redis is down."""
        key = self.keyspace.answer_record(answer_id)
        raw = await self.guarded.call("answer_get", lambda: self.guarded.client.get(key))
        return json.loads(raw) if raw else None

    async def evict(self, answer_id: str, cache: dict[str, Any] | None, reason: str) -> bool:
        """Deletes the cache entry ``cache`` (an answer record's) if it still holds answer ``answer_id``,
        and the question from the semantic cache; counts it under ``reason``. True when it was cached.
        Raises StoreUnavailable when Redis is down (the caller decides whether that matters)."""
        fp = (cache or {}).get("fingerprint")
        if not fp:
            return False
        key = self.answer_key(fp)
        marker = f'"answer_id":"{answer_id}"'
        gone = await self.guarded.call("cache_evict", lambda: self._evict(keys=[key], args=[marker]))
        if int(gone) != 1:
            return False
        self.metrics.cache_evictions.labels(reason=reason).inc()
        if cache and cache.get("scope") and cache.get("version"):
            semantic = self.keyspace.semantic(cache["scope"], cache["version"])
            with contextlib.suppress(StoreUnavailable):  # a semantic match with no entry behind it is a miss
                await self.guarded.call("semantic_evict", lambda: self.guarded.client.hdel(semantic, fp))
        log.info("cache.evicted", answer_id=answer_id, reason=reason)
        return True
