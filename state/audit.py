"""The audit trail: who asked, uploaded, deleted or changed what, kept durably in a Redis stream.

    {prefix}audit   stream   <ms>-<seq> -> {principal, action, route, collection, doc_ids (JSON), target,
                                            status[, question]}

(The key is ``state.keys.Keyspace.audit``.) Guarantees:

- An entry's time is its stream id (the Redis server's clock, in ms): reading ``since`` is one
  ``XRANGE`` bound, and retention is one option of the write (``XADD ... MINID ~``), which trims
  entries older than ``audit.retention_days`` as it goes, whole stream nodes at a time (a few older
  entries may stay until their node empties). No caller trims.
- Recording never fails the action it records: a Redis error is logged (``audit.not_recorded``)
  and counted (``ragqa_redis_errors_total{op="audit_record"}``), and the action goes on.
- The question's text is kept only with ``audit.include_questions``, whatever the caller passes.
- Durable means a Redis that never evicts: the trail belongs where job records go, ``redis.jobs_url``
  when set (``Components.jobs_redis``); the cache Redis may evict it under memory pressure.

The API records through ``AuditLog`` (the guarded asyncio client), the CLI through ``SyncAuditLog``;
``iter_audit`` reads (``ragqa audit``).

    >>> fields = audit_fields("key:ops-bot", "delete", "DELETE /documents/{doc_id}", collection="docs",
    ...                       doc_ids=["a.txt"], status=200)
    >>> fields["doc_ids"], fields["status"], "question" in fields
    ('["a.txt"]', '200', False)
    >>> principal_matches("key:ops-bot", "ops-bot"), principal_matches("key:ops-bot", "user:ops-bot")
    (True, False)
"""

from __future__ import annotations

import asyncio
import getpass
import json
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import structlog

from core.access import Principal
from core.audit_settings import AuditSettings
from core.errors import StoreUnavailable
from state.guard import GuardedRedis
from state.keys import Keyspace
from state.metrics import StateMetrics
from state.streams import stream_entries, text
from state.topology import REDIS_OR_SOCKET_ERRORS, SyncRedis

log = structlog.get_logger(__name__)

# The actions recorded so far (a caller may name another: the trail records what it is told).
ACTIONS = ("ask", "chat", "upload", "delete", "sync", "ingest", "feedback", "job_cancel", "key_create",
           "key_revoke", "admin")  # fmt: skip
DAY_MS = 24 * 3600 * 1000
OP = "audit_record"  # the ``op`` label of ``ragqa_redis_errors_total``


def principal_label(principal: Principal | str) -> str:
    """``kind:name`` (``key:ops-bot``, ``user:ana``, ``open:anonymous``); a string passes as it is."""
    return principal if isinstance(principal, str) else f"{principal.kind}:{principal.name}"


def cli_principal() -> str:
    """Who runs a CLI command: ``cli:<the operating system's user>`` (it holds the stores' addresses)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container without one in /etc/passwd)
        return "cli:unknown"


def principal_matches(label: str, wanted: str) -> bool:
    """``wanted`` is a full label (``user:ana``) or a bare name (``ana``: any kind)."""
    return label == wanted or (":" not in wanted and label.partition(":")[2] == wanted)


def audit_fields(principal: Principal | str, action: str, route: str, *, collection: str | None = None,
                 doc_ids: Iterable[str] = (), target: str | None = None, status: int | str = "ok",
                 question: str | None = None) -> dict[str, str]:
    """The stream fields of one entry; ``question`` only when given (the settings decide before)."""
    fields = {"principal": principal_label(principal), "action": str(action), "route": str(route),
              "collection": collection or "", "doc_ids": json.dumps([str(d) for d in doc_ids], ensure_ascii=False),
              "target": target or "", "status": str(status)}  # fmt: skip
    if question is not None:
        fields["question"] = question
    return fields


class _AuditTrail:
    """What both writers share: the settings, the key, the retention bound, the failure report."""

    def __init__(self, settings: AuditSettings, prefix: str, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.key = Keyspace(prefix).audit
        self.clock = clock
        self.dropped = 0  # entries lost to Redis failures in this process (also in the metric)

    def _fields(self, principal: Principal | str, action: str, route: str, *, collection: str | None,
                doc_ids: Iterable[str], target: str | None, status: int | str,
                question: str | None) -> dict[str, str]:
        kept = question if self.settings.include_questions else None
        return audit_fields(principal, action, route, collection=collection, doc_ids=doc_ids, target=target,
                            status=status, question=kept)  # fmt: skip

    def _write_options(self) -> dict[str, Any]:
        """``MINID ~ <now - retention>`` on every write; nothing when entries are kept forever."""
        days = self.settings.retention_days
        if days <= 0:
            return {}
        return {"minid": max(0, int(self.clock() * 1000) - days * DAY_MS), "approximate": True}

    def _not_recorded(self, fields: dict[str, str], error: str) -> None:
        self.dropped += 1
        log.warning("audit.not_recorded", principal=fields["principal"], action=fields["action"],
                    route=fields["route"], collection=fields["collection"] or None, status=fields["status"],
                    error=error)  # fmt: skip


class AuditLog(_AuditTrail):
    """The API's audit trail, over the guarded asyncio client (the breaker spares a dead Redis).

    Example::

        audit = AuditLog(guarded, settings.audit, settings.redis.key_prefix)
        await audit.record(principal, "ask", "POST /ask", collection="docs", status=200, question=q)
    """

    MAX_PENDING = 1000  # entries written in the background at once; past it, one is dropped (logged)

    def __init__(self, guarded: GuardedRedis, settings: AuditSettings, prefix: str,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(settings, prefix, clock)
        self.guarded = guarded
        self._pending: set[asyncio.Task[str | None]] = set()

    def submit(self, principal: Principal | str, action: str, route: str, **entry: Any) -> None:
        """``record`` in the background: the answer goes out without waiting for the write (a cache
        hit is one Redis call; the entry would be a second). ``drain`` awaits what is left."""
        if not self.settings.enabled:
            return
        if len(self._pending) >= self.MAX_PENDING:
            self._not_recorded(self._fields(principal, action, route, **entry), "too many entries waiting")
            return
        task = asyncio.get_running_loop().create_task(self.record(principal, action, route, **entry))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def drain(self) -> None:
        """Waits for the entries still being written (at shutdown)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def record(self, principal: Principal | str, action: str, route: str, *, collection: str | None = None,
                     doc_ids: Iterable[str] = (), target: str | None = None, status: int | str = "ok",
                     question: str | None = None) -> str | None:
        """Appends one entry; its stream id, or None when disabled or Redis failed (logged, counted)."""
        if not self.settings.enabled:
            return None
        fields = self._fields(principal, action, route, collection=collection, doc_ids=doc_ids, target=target,
                              status=status, question=question)  # fmt: skip
        options = self._write_options()
        try:  # the guard counts the failure in ragqa_redis_errors_total{op="audit_record"}
            entry_id = await self.guarded.call(OP, lambda: self.guarded.client.xadd(self.key, fields, **options))  # type: ignore[arg-type]
        except StoreUnavailable as exc:
            self._not_recorded(fields, exc.message)
            return None
        return text(entry_id)


class SyncAuditLog(_AuditTrail):
    """The CLI's audit trail, over a synchronous client (``metrics``, when given, counts failures).

    Example::

        audit = SyncAuditLog(parts.jobs_redis.client(), settings.audit, settings.redis.key_prefix)
        audit.record(cli_principal(), "ingest", "cli ingest", collection="docs", doc_ids=added, status="ok")
    """

    def __init__(self, client: SyncRedis, settings: AuditSettings, prefix: str,
                 metrics: StateMetrics | None = None, clock: Callable[[], float] = time.time) -> None:
        super().__init__(settings, prefix, clock)
        self.client = client
        self.metrics = metrics

    def record(self, principal: Principal | str, action: str, route: str, *, collection: str | None = None,
               doc_ids: Iterable[str] = (), target: str | None = None, status: int | str = "ok",
               question: str | None = None) -> str | None:
        """Appends one entry; its stream id, or None when disabled or Redis failed (logged, counted)."""
        if not self.settings.enabled:
            return None
        fields = self._fields(principal, action, route, collection=collection, doc_ids=doc_ids, target=target,
                              status=status, question=question)  # fmt: skip
        try:
            entry_id = self.client.xadd(self.key, fields, **self._write_options())  # type: ignore[arg-type]
        except REDIS_OR_SOCKET_ERRORS as exc:
            if self.metrics is not None:
                self.metrics.redis_errors.labels(op=OP, reason=type(exc).__name__).inc()
            self._not_recorded(fields, f"Redis failed during {OP}: {exc}")
            return None
        return text(entry_id)


def iter_audit(client: SyncRedis, prefix: str, since: datetime | None = None, principal: str | None = None,
               page: int = 500) -> Iterator[dict[str, Any]]:
    """Audit entries oldest first, from ``since`` on (a naive datetime is local time), of ``principal``
    (a label or a bare name); a synchronous client (the CLI's). Redis failing -> StoreUnavailable."""
    start = "-" if since is None else str(max(0, int(since.timestamp() * 1000)))
    for entry_id, fields in stream_entries(client, Keyspace(prefix).audit, "the audit trail", start, page):
        entry = to_entry(entry_id, fields)
        if principal is None or principal_matches(entry["principal"], principal):
            yield entry


def to_entry(entry_id: str, fields: dict[str, str]) -> dict[str, Any]:
    """One entry as ``ragqa audit --json`` writes it: the time from the id (ms and ISO 8601, UTC).

        >>> to_entry("1764547200000-0", {"principal": "user:ana", "action": "ask", "route": "POST /ask",
        ...                              "collection": "docs", "doc_ids": "[]", "status": "200"})["time"]
        '2025-12-01T00:00:00.000+00:00'
    """
    ms = int(entry_id.partition("-")[0])
    status = fields.get("status", "")
    return {
        "id": entry_id, "time_ms": ms,
        "time": datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds"),
        "principal": fields.get("principal", ""), "action": fields.get("action", ""), "route": fields.get("route", ""),
        "collection": fields.get("collection") or None, "doc_ids": json.loads(fields.get("doc_ids") or "[]"),
        "target": fields.get("target") or None, "status": int(status) if status.isdigit() else status,
        "question": fields.get("question"),
    }  # fmt: skip
