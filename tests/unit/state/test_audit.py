"""The audit trail's entries and its failure rule, over fake clients (no sockets; the real Redis is in
tests/integration/state/test_audit.py)."""

from __future__ import annotations

from typing import Any

import anyio
import redis
import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge

from core.access import OPEN, Principal
from core.audit_settings import AuditSettings
from state.audit import DAY_MS, AuditLog, SyncAuditLog, audit_fields, principal_label, principal_matches, to_entry
from state.guard import CircuitBreaker, GuardedRedis

NOW = 1_800_000_000.0  # a fixed clock (seconds)


class Metrics:
    """What ``state.metrics.StateMetrics`` names, in a registry of its own."""

    def __init__(self) -> None:
        r = CollectorRegistry()
        self.cache = Counter("cache", "", ["kind", "result"], registry=r)
        self.cache_evictions = Counter("evictions", "", registry=r)
        self.redis_errors = Counter("redis_errors", "", ["op", "reason"], registry=r)
        self.redis_breaker_open = Gauge("breaker_open", "", registry=r)
        self.rate_limited = Counter("rate_limited", "", registry=r)

    def errors(self, reason: str) -> float:
        return self.redis_errors.labels(op="audit_record", reason=reason)._value.get()


class SyncClient:
    """Records XADD calls; fails them all with ``error`` when given."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls: list[tuple[str, dict[str, str], dict[str, Any]]] = []

    def xadd(self, key: str, fields: dict[str, str], **options: Any) -> bytes:
        if self.error is not None:
            raise self.error
        self.calls.append((key, fields, options))
        return f"{int(NOW * 1000)}-{len(self.calls) - 1}".encode()


class AsyncClient(SyncClient):
    async def xadd(self, key: str, fields: dict[str, str], **options: Any) -> bytes:  # type: ignore[override]
        return SyncClient.xadd(self, key, fields, **options)


def sync_log(client: SyncClient, metrics: Metrics | None = None, **settings: Any) -> SyncAuditLog:
    return SyncAuditLog(client, AuditSettings(**settings), "t:", metrics, clock=lambda: NOW)  # type: ignore[arg-type]


def test_an_entry_names_the_principal_route_collection_and_documents() -> None:
    ana = Principal("ana", "user")
    fields = audit_fields(ana, "upload", "POST /documents", collection="docs", doc_ids=["a.txt", "b/ü.md"],
                          status=202)  # fmt: skip
    assert fields == {"principal": "user:ana", "action": "upload", "route": "POST /documents",
                      "collection": "docs", "doc_ids": '["a.txt", "b/ü.md"]', "target": "", "status": "202"}
    entry = to_entry("1764547200123-4", fields)
    assert entry["time_ms"] == 1764547200123 and entry["time"] == "2025-12-01T00:00:00.123+00:00"
    assert (entry["principal"], entry["doc_ids"], entry["status"]) == ("user:ana", ["a.txt", "b/ü.md"], 202)
    assert entry["question"] is None and entry["target"] is None
    assert to_entry("1-0", audit_fields("cli:ops", "ingest", "cli ingest", status="error"))["status"] == "error"
    assert principal_label(OPEN) == "open:anonymous" and principal_label("key:ops-bot") == "key:ops-bot"


def test_a_principal_filter_takes_a_label_or_a_bare_name() -> None:
    assert principal_matches("key:ops-bot", "key:ops-bot") and principal_matches("key:ops-bot", "ops-bot")
    assert not principal_matches("key:ops-bot", "user:ops-bot") and not principal_matches("key:ops-bot", "ops")


def test_the_question_is_kept_only_when_the_settings_say_so() -> None:
    client = SyncClient()
    sync_log(client).record("user:ana", "ask", "POST /ask", collection="docs", status=200, question="salary of Bo?")
    sync_log(client, include_questions=True).record("user:ana", "ask", "POST /ask", question="salary of Bo?")
    assert "question" not in client.calls[0][1]
    assert client.calls[1][1]["question"] == "salary of Bo?"


def test_every_write_trims_past_the_retention_approximately() -> None:
    client = SyncClient()
    entry_id = sync_log(client, retention_days=30).record("user:ana", "delete", "DELETE /documents/{doc_id}")
    sync_log(client, retention_days=0).record("user:ana", "delete", "DELETE /documents/{doc_id}")
    assert entry_id == f"{int(NOW * 1000)}-0"
    assert client.calls[0][0] == "t:audit"
    assert client.calls[0][2] == {"minid": int(NOW * 1000) - 30 * DAY_MS, "approximate": True}
    assert client.calls[1][2] == {}  # 0: kept forever


def test_a_disabled_trail_writes_nothing() -> None:
    client = SyncClient()
    assert sync_log(client, enabled=False).record("user:ana", "ask", "POST /ask") is None
    assert client.calls == []


def test_a_redis_failure_is_logged_and_counted_never_raised() -> None:
    metrics = Metrics()
    audit = sync_log(SyncClient(redis.ConnectionError("refused")), metrics, include_questions=True)
    with structlog.testing.capture_logs() as logs:
        assert audit.record("key:ops-bot", "ask", "POST /ask", collection="docs", question="secret?") is None
    assert audit.dropped == 1 and metrics.errors("ConnectionError") == 1
    [event] = [e for e in logs if e["event"] == "audit.not_recorded"]
    assert event["principal"] == "key:ops-bot" and event["route"] == "POST /ask" and "refused" in event["error"]
    assert "secret?" not in str(event)  # a question never reaches the logs


def test_the_api_trail_survives_a_failing_redis_and_an_open_breaker() -> None:
    metrics = Metrics()
    breaker = CircuitBreaker(failures=1, reset_s=60.0)
    guarded = GuardedRedis(AsyncClient(redis.ConnectionError("refused")), breaker, metrics)  # type: ignore[arg-type]
    audit = AuditLog(guarded, AuditSettings(), "t:", clock=lambda: NOW)

    async def twice() -> list[str | None]:
        return [await audit.record(OPEN, "ask", "POST /ask", status=200) for _ in range(2)]

    with structlog.testing.capture_logs() as logs:
        assert anyio.run(twice) == [None, None]
    assert breaker.state == "open" and audit.dropped == 2
    assert metrics.errors("ConnectionError") == 1 and metrics.errors("circuit_open") == 1
    assert sum(e["event"] == "audit.not_recorded" for e in logs) == 2


def test_the_api_trail_records_through_the_guard() -> None:
    client = AsyncClient()
    guarded = GuardedRedis(client, CircuitBreaker(), Metrics())  # type: ignore[arg-type]
    audit = AuditLog(guarded, AuditSettings(), "t:", clock=lambda: NOW)
    entry_id = anyio.run(lambda: audit.record("key:ops-bot", "key_revoke", "DELETE /keys/{name}", target="old-bot"))
    assert entry_id == f"{int(NOW * 1000)}-0"
    assert client.calls[0][1]["target"] == "old-bot" and client.calls[0][2]["approximate"] is True
