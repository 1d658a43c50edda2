"""The Redis answer cache, and answer records kept for feedback.

Keys (all under the configured prefix)::

    ans:{fingerprint}             b"<index version>\n<answer JSON>"; TTL ``redis.cache_ttl_s``
    ver:{collection}              the collection's index version: a fresh token on every ingest or
                                  delete, and when missing (new, or evicted by an allkeys-lfu Redis)
    cite:{collection}:{doc_id}    set of answer keys that cite the document (evicted on delete)
    answer:{answer_id}            the answer as served, for feedback; TTL ``redis.answer_ttl_s``

The fingerprint hashes the normalized question, the collection, filters, top_k, the
conversation (for ``/chat``), the model and the prompt version. A lookup is one ``MGET`` of the
collection's current index version and the entry: an entry written under another version is a
miss (and is overwritten by the fresh answer), so an answer cached before an ingest or delete
is never served. One round trip, no script.

    >>> normalize_question("  What IS  the capital of France? ")
    'what is the capital of france'
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from api.metrics import Metrics
from api.redis_guard import GuardedRedis
from api.streaming import run_blocking
from core.types import ChatMessage
from ingest.jobs import IndexVersions, StoreUnavailable, index_version_key, new_index_version

_SPACES = re.compile(r"\s+")
_TRAILING = re.compile(r"[\s?!.。？！]+$")


def split_entry(entry: bytes | str | None, version: str) -> bytes | None:
    """The answer JSON of a cache entry if it was written under ``version``, else None (stale)."""
    if entry is None:
        return None
    stored, sep, raw = (entry.encode() if isinstance(entry, str) else entry).partition(b"\n")
    return raw if sep and stored.decode() == version else None


def normalize_question(text: str) -> str:
    """Case, Unicode form, spacing and trailing punctuation don't change what is asked."""
    text = unicodedata.normalize("NFKC", text).casefold().strip()
    text = _SPACES.sub(" ", text)
    return _TRAILING.sub("", text)


def fingerprint(question: str, collection: str, *, filters: dict[str, Any] | None, top_k: int, model: str,
                prompt_version: str, history: Sequence[ChatMessage] = ()) -> str:
    """Everything an answer depends on except the index version (added at lookup)."""
    material = {
        "q": normalize_question(question), "c": collection, "f": _canonical(filters or {}), "k": top_k,
        "m": model, "p": prompt_version,
        "h": [[m.role, normalize_question(m.content)] for m in history],
    }  # fmt: skip
    return hashlib.sha256(json.dumps(material, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in sorted(value.items()) if v not in (None, [], {})}
    if isinstance(value, list):
        return sorted((_canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


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
    version: str | None  # None: the cache is bypassed (Redis down or a pending version bump)

    @property
    def payload(self) -> dict[str, Any] | None:
        return json.loads(self.raw) if self.raw is not None else None


class AnswerCache:
    """Exact-match answer cache plus answer records, over the guarded async client.

    Example::

        found = await cache.lookup(fp, "docs")
        if found.payload is None:
            payload = ...  # answer it
            await cache.save(fp, "docs", found.version, payload, cited_doc_ids)
    """

    def __init__(self, guarded: GuardedRedis, versions: IndexVersions, metrics: Metrics, *, prefix: str,
                 ttl_s: int, answer_ttl_s: int, enabled: bool = True) -> None:
        self.guarded = guarded
        self.versions = versions
        self.metrics = metrics
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.answer_ttl_s = answer_ttl_s
        self.enabled = enabled

    def answer_key(self, fp: str) -> str:
        return f"{self.prefix}ans:{fp}"

    def _cite_key(self, collection: str, doc_id: str) -> str:
        return f"{self.prefix}cite:{collection}:{doc_id}"

    def bypassed(self, collection: str) -> bool:
        """True while a version bump for ``collection`` could not be written (see IndexVersions)."""
        return self.versions.is_pending(collection)

    async def lookup(self, fp: str, collection: str) -> Lookup:
        if not self.enabled:
            return Lookup(None, None)
        if self.bypassed(collection):
            await run_blocking(self.versions.retry_pending, self.guarded.breaker.reset_s)
        if self.bypassed(collection):
            self.metrics.cache.labels(kind="exact", result="bypass").inc()
            return Lookup(None, None)
        keys = (index_version_key(self.prefix, collection), self.answer_key(fp))
        try:
            current, entry = await self.guarded.call("cache_lookup", lambda: self.guarded.client.mget(keys))
        except StoreUnavailable:
            self.metrics.cache.labels(kind="exact", result="error").inc()
            return Lookup(None, None)
        if current is None:  # a new collection, or the key was evicted: no older entry may match
            try:
                version = await self._start_version(collection)
            except StoreUnavailable:
                self.metrics.cache.labels(kind="exact", result="error").inc()
                return Lookup(None, None)
        else:
            version = current.decode() if isinstance(current, bytes) else current
        raw = split_entry(entry, version)
        self.metrics.cache.labels(kind="exact", result="hit" if raw is not None else "miss").inc()
        return Lookup(raw, version)

    async def _start_version(self, collection: str) -> str:
        """Sets a fresh version for ``collection`` unless another process just did; returns the one set."""
        key = index_version_key(self.prefix, collection)
        fresh = new_index_version()
        if await self.guarded.call("cache_version", lambda: self.guarded.client.set(key, fresh, nx=True)):
            return fresh
        current = await self.guarded.call("cache_version", lambda: self.guarded.client.get(key))
        if current is None:
            raise StoreUnavailable(f"the index version of {collection!r} vanished while it was set")
        return current.decode() if isinstance(current, bytes) else str(current)

    async def get_cached(self, fp: str, version: str) -> dict[str, Any] | None:
        """The payload cached for ``fp`` under ``version`` (the semantic cache's second step)."""
        try:
            entry = await self.guarded.call("cache_get", lambda: self.guarded.client.get(self.answer_key(fp)))
        except StoreUnavailable:
            return None
        raw = split_entry(entry, version)
        return json.loads(raw) if raw is not None else None

    async def save(self, fp: str | None, collection: str, version: str | None, payload: dict[str, Any],
                   cited_doc_ids: Sequence[str]) -> None:
        """Keeps the answer record (for feedback) and, when ``version`` is known, the cache entry."""
        data = json.dumps(payload, separators=(",", ":"))
        cache_it = self.enabled and fp is not None and version is not None and not self.bypassed(collection)

        async def write() -> None:
            pipe = self.guarded.client.pipeline(transaction=False)
            pipe.set(f"{self.prefix}answer:{payload['answer_id']}", data, ex=self.answer_ttl_s)
            if cache_it:
                assert fp is not None and version is not None
                key = self.answer_key(fp)
                pipe.set(key, f"{version}\n{data}", ex=self.ttl_s)
                for doc_id in set(cited_doc_ids):
                    pipe.sadd(self._cite_key(collection, doc_id), key)
                    pipe.expire(self._cite_key(collection, doc_id), self.ttl_s)
            await pipe.execute()

        # Uncached on failure: the answer is served anyway; the breaker and a metric record the outage.
        with contextlib.suppress(StoreUnavailable):
            await self.guarded.call("cache_save", write)

    async def answer_record(self, answer_id: str) -> dict[str, Any] | None:
        """The answer as served (raises StoreUnavailable when Redis is down)."""
        raw = await self.guarded.call("answer_get", lambda: self.guarded.client.get(f"{self.prefix}answer:{answer_id}"))
        return json.loads(raw) if raw else None

    async def evict_document(self, collection: str, doc_id: str) -> int:
        """Deletes every cached answer that cited ``doc_id``; returns how many went."""
        cite = self._cite_key(collection, doc_id)

        async def evict() -> int:
            keys = await self.guarded.client.smembers(cite)
            pipe = self.guarded.client.pipeline(transaction=False)
            if keys:
                pipe.delete(*keys)
            pipe.delete(cite)
            results = await pipe.execute()
            return int(results[0]) if keys else 0

        evicted = await self.guarded.call("cache_evict", evict)
        self.metrics.cache_evictions.inc(evicted)
        return evicted
