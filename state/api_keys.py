"""Scoped API keys, kept in Redis: each has a name, roles, the collections it may use and the
groups it reads as, and an optional daily token quota (``state.usage``). Only a key's SHA-256 digest
is stored; the key itself is shown once, when made.

``KeyAdmin`` (sync) serves ``ragqa keys create/list/revoke``; ``KeyLookup`` (async, behind the
circuit breaker) serves the API's auth gate, with a few seconds of in-process memory so a request
does not pay a Redis round trip, and a revoked key stops working within ``ttl_s``. Keys named in
``api.api_keys_sha256`` (settings) stay valid too, as admin keys.

    keys = KeyAdmin(client, "ragqa:")
    secret, record = keys.create("ops-bot", roles=("ask", "ingest"), collections=("docs",))
    keys.set_quota("ops-bot", 200_000)   # tokens a day; None removes the quota
    keys.revoke("ops-bot")
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.typing import EncodableT, FieldT

from core.access import NAME, ROLES, Principal
from core.errors import InvalidRequest, NotFound, StoreUnavailable
from state.guard import GuardedRedis
from state.keys import Keyspace
from state.topology import REDIS_ERRORS, SyncRedis

KEY_PREFIX = "rq_"  # makes a ragqa key recognisable in a leaked log or a secret scanner's rules


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One key as stored: never the key itself."""

    name: str
    digest: str
    roles: tuple[str, ...]
    collections: tuple[str, ...] | None  # None: every collection
    groups: tuple[str, ...]
    created: float
    revoked: float | None = None
    daily_tokens: int | None = None  # None: no quota

    @property
    def principal(self) -> Principal:
        return Principal(self.name, "key", frozenset(self.roles),
                         frozenset(self.collections) if self.collections is not None else None,
                         frozenset(self.groups), self.daily_tokens)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "digest_prefix": self.digest[:12], "roles": list(self.roles),
                "collections": list(self.collections) if self.collections is not None else None,
                "groups": list(self.groups), "created": self.created, "revoked": self.revoked,
                "daily_tokens": self.daily_tokens}

    def to_hash(self) -> dict[FieldT, EncodableT]:
        return {"name": self.name, "roles": json.dumps(self.roles), "collections": json.dumps(self.collections),
                "groups": json.dumps(self.groups), "created": repr(self.created),
                "revoked": repr(self.revoked) if self.revoked is not None else "",
                "daily_tokens": str(self.daily_tokens) if self.daily_tokens is not None else ""}

    @classmethod
    def from_hash(cls, digest: str, raw: Mapping[Any, Any]) -> KeyRecord:
        data = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
                for k, v in raw.items()}
        collections = json.loads(data.get("collections") or "null")
        return cls(data["name"], digest, tuple(json.loads(data["roles"])),
                   tuple(collections) if collections is not None else None, tuple(json.loads(data["groups"])),
                   float(data["created"]), float(data["revoked"]) if data.get("revoked") else None,
                   int(data["daily_tokens"]) if data.get("daily_tokens") else None)


def checked_scope(roles: Sequence[str], collections: Sequence[str] | None, groups: Sequence[str]) -> None:
    unknown = sorted(set(roles) - set(ROLES))
    if not roles or unknown:
        raise InvalidRequest(f"roles must be some of {', '.join(ROLES)}" + (f" (not {unknown})" if unknown else ""))
    for group in groups:
        if not NAME.fullmatch(group):
            raise InvalidRequest(f"group {group!r}: letters, digits and . @ + - _ only (as in --acl group:NAME)")
    if collections is not None and not collections:
        raise InvalidRequest("give at least one --collection, or none for every collection")


def checked_quota(daily_tokens: int | None) -> None:
    if daily_tokens is not None and daily_tokens < 1:
        raise InvalidRequest(f"a daily token quota is at least 1, not {daily_tokens} (remove it instead)")


class KeyAdmin:
    """Make, list and revoke keys (the CLI's side); Redis errors become ``StoreUnavailable``."""

    def __init__(self, client: SyncRedis, prefix: str) -> None:
        self._client = client
        self._keys = Keyspace(prefix)

    def create(self, name: str, roles: Sequence[str], collections: Sequence[str] | None = None,
               groups: Sequence[str] = (), daily_tokens: int | None = None) -> tuple[str, KeyRecord]:
        """A new key (returned once) and its record; names are unique among keys not revoked."""
        if len(name) > 64 or not NAME.fullmatch(name):  # the name is the key's user in ACLs (user:NAME)
            raise InvalidRequest(f"key name {name!r}: 1-64 letters, digits and . @ + - _")
        checked_scope(roles, collections, groups)
        checked_quota(daily_tokens)
        if any(r.name == name for r in self.list()):
            raise InvalidRequest(f"a key named {name!r} exists: revoke it first, or pick another name")
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        record = KeyRecord(name, key_digest(secret), tuple(sorted(set(roles))),
                           tuple(sorted(set(collections))) if collections is not None else None,
                           tuple(sorted(set(groups))), time.time(), daily_tokens=daily_tokens)
        try:
            # The record, then the index (two slots in a cluster): a failure between leaves a record no
            # one holds the key to (it was never shown), not a working key that `list` cannot show.
            self._client.hset(self._keys.api_key(record.digest), mapping=record.to_hash())
            self._client.zadd(self._keys.api_keys, {record.digest: record.created})
        except REDIS_ERRORS as exc:
            raise StoreUnavailable(f"could not store the key in Redis: {exc}") from exc
        return secret, record

    def list(self, include_revoked: bool = False) -> list[KeyRecord]:
        try:
            members: list[Any] = list(self._client.zrange(self._keys.api_keys, 0, -1))
            digests = [str(d.decode() if isinstance(d, bytes) else d) for d in members]
            pipe = self._client.pipeline(transaction=False)
            for digest in digests:
                pipe.hgetall(self._keys.api_key(digest))
            rows = pipe.execute()
        except REDIS_ERRORS as exc:
            raise StoreUnavailable(f"could not read the keys from Redis: {exc}") from exc
        records = [KeyRecord.from_hash(d, raw) for d, raw in zip(digests, rows, strict=True) if raw]
        return [r for r in records if include_revoked or r.revoked is None]

    def set_quota(self, name: str, daily_tokens: int | None) -> KeyRecord:
        """Sets (None: removes) the active key's daily token quota; servers apply it within seconds."""
        checked_quota(daily_tokens)
        record = self._active(name)
        try:
            self._client.hset(self._keys.api_key(record.digest), "daily_tokens",
                              str(daily_tokens) if daily_tokens is not None else "")
        except REDIS_ERRORS as exc:
            raise StoreUnavailable(f"could not set the key's quota in Redis: {exc}") from exc
        return KeyRecord(record.name, record.digest, record.roles, record.collections, record.groups,
                         record.created, record.revoked, daily_tokens)

    def _active(self, name: str) -> KeyRecord:
        match = [r for r in self.list() if r.name == name]
        if not match:
            raise NotFound(f"no active key named {name!r} (`ragqa keys list` shows them)")
        return match[0]

    def revoke(self, name: str) -> KeyRecord:
        """Revoke the active key named ``name``; its record stays (for the audit trail), marked revoked."""
        record = self._active(name)
        try:
            self._client.hset(self._keys.api_key(record.digest), "revoked", repr(time.time()))
        except REDIS_ERRORS as exc:
            raise StoreUnavailable(f"could not revoke the key in Redis: {exc}") from exc
        return record


class KeyLookup:
    """The API's view: a presented key's principal, remembered for ``ttl_s`` seconds."""

    def __init__(self, guarded: GuardedRedis, prefix: str, ttl_s: float = 5.0) -> None:
        self._guarded = guarded
        self._keys = Keyspace(prefix)
        self._ttl_s = ttl_s
        self._known: dict[str, tuple[float, Principal | None]] = {}

    async def principal(self, digest: str) -> Principal | None:
        """The principal of an active key with this digest; None for an unknown or revoked one."""
        now = time.monotonic()
        held = self._known.get(digest)
        if held is not None and now - held[0] < self._ttl_s:
            return held[1]
        client = self._guarded.client
        raw = await self._guarded.call("api_key", lambda: client.hgetall(self._keys.api_key(digest)))
        record = KeyRecord.from_hash(digest, raw) if raw else None
        found = record.principal if record is not None and record.revoked is None else None
        if len(self._known) > 10_000:  # bounded: a flood of made-up keys cannot grow it
            self._known.clear()
        self._known[digest] = (now, found)
        return found
