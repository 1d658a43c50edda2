"""The index's version: a token stored in each collection, moved by every write through the index.

The answer cache keys on it, so an answer cached before a write is never served after it,
whichever process wrote (``ragqa ingest``, ``ragqa delete``, an ingestion job, the API) and
across restarts. No caller bumps it: the backends do, inside ``upsert``, ``delete_*`` and
``ensure_collection`` (a dropped collection has no token; a re-created one gets a fresh one).

The token lives in the collection itself, in a reserved point: id ``VERSION_POINT_ID``, no
vectors (so no search can return it), payload ``{VERSION_FIELD: token}`` (no ``doc_id``, so no
document filter matches it). Counts and stats leave it out. Every backend holds it the same way:
Qdrant Edge, qdrant-client local mode and a Qdrant server, so every process that opens the
index reads the same token.

A write moves the token twice, before and after the points change: a reader that picked up the
old token meanwhile stores its answer under a token that is already dead, and a crash between
the write and the second move still leaves the token changed (by the first).

    >>> tokens = VersionTokens(read=lambda c: "t1", write=lambda c, t: None, ttl_s=None)
    >>> tokens.get("docs")
    't1'
    >>> tokens.bump("docs") != "t1"
    True
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from core.errors import NotFound, RagqaError

VERSION_POINT_ID = "00000000-0000-0000-0000-000000000000"
VERSION_FIELD = "ragqa_index_version"
ABSENT = "absent"  # the collection does not exist
UNVERSIONED = "unversioned"  # a collection written before versions existed, until its next write


def new_token() -> str:
    """A token never used before. Not a counter: a re-created collection would restart at a number
    that answers from its previous life were cached under."""
    return f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}"


def version_payload(token: str) -> dict[str, Any]:
    """The payload of the reserved version point."""
    return {VERSION_FIELD: token}


def token_of(payload: dict[str, Any] | None) -> str:
    """The token in a version point's payload; ``UNVERSIONED`` when the collection has no such point."""
    token = (payload or {}).get(VERSION_FIELD)
    return str(token) if token else UNVERSIONED


class _PayloadRecord(Protocol):
    @property
    def payload(self) -> dict[str, Any] | None: ...


def read_token(retrieve: Callable[[], Sequence[_PayloadRecord]]) -> str:
    """The token that ``retrieve`` (a backend's lookup of ``VERSION_POINT_ID``, with its payload) finds:
    ``ABSENT`` when it raises ``NotFound`` (no such collection), ``UNVERSIONED`` when the point is missing."""
    try:
        records = retrieve()
    except NotFound:
        return ABSENT
    return token_of(records[0].payload if records else None)


class VersionSource(Protocol):
    """What the answer cache needs from the index: the current version of a collection."""

    def version(self, collection: str) -> str:
        """The token (``ABSENT`` for no such collection); may read the store (a server round trip)."""
        ...

    def cached_version(self, collection: str) -> str | None:
        """The token when this index knows it without I/O, else None (then call ``version`` off the loop)."""
        ...


class VersionTokens:
    """One index's view of its collections' tokens: read through, written through, kept ``ttl_s``.

    ``ttl_s=None`` keeps a token until this index changes it: right for an embedded store, which
    one process holds at a time, so nobody else can move it. A server shared by several
    processes needs a TTL: a write by another process is seen at most ``ttl_s`` later.
    """

    def __init__(self, read: Callable[[str], str], write: Callable[[str, str], None], ttl_s: float | None) -> None:
        self._read = read
        self._write = write
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._known: dict[str, tuple[str, float]] = {}  # collection -> (token, when it was learned)
        self._changes = 0  # bumped on every local change: a read that raced one must not overwrite it

    def cached(self, collection: str) -> str | None:
        with self._lock:
            known = self._known.get(collection)
        if known is None:
            return None
        token, learned = known
        if self._ttl_s is not None and time.monotonic() - learned > self._ttl_s:
            return None
        return token

    def get(self, collection: str) -> str:
        token = self.cached(collection)
        if token is not None:
            return token
        with self._lock:
            changes = self._changes
        token = self._read(collection)
        with self._lock:
            if self._changes == changes:
                self._known[collection] = (token, time.monotonic())
            else:  # a local change landed during the read: it is newer than what we read
                token = self._known.get(collection, (token, 0.0))[0]
        return token

    def set(self, collection: str, token: str) -> None:
        """Records a token this index has just written (or ``ABSENT`` after a drop)."""
        with self._lock:
            self._changes += 1
            self._known[collection] = (token, time.monotonic())

    def bump(self, collection: str) -> str:
        """Writes a fresh token to the store, then remembers it; returns it."""
        token = new_token()
        try:
            self._write(collection, token)
        except BaseException:
            self.forget(collection)  # the store may or may not hold it now: read it again next time
            raise
        self.set(collection, token)
        return token

    def forget(self, collection: str) -> None:
        with self._lock:
            self._changes += 1
            self._known.pop(collection, None)

    @contextlib.contextmanager
    def writing(self, collection: str) -> Iterator[None]:
        """Around a write of ``collection``'s points: a fresh token before it and another after."""
        self.bump(collection)
        try:
            yield
        except BaseException:
            # The points may have changed anyway (a timeout after the server applied them).
            with contextlib.suppress(RagqaError):
                self.bump(collection)
            raise
        self.bump(collection)
