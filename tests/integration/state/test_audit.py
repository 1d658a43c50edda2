"""The audit trail on a real Redis: recorded by both writers, read back with filters, trimmed by age,
and never in the way of the action when Redis is down."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import anyio
import pytest
import redis
import redis.asyncio as aioredis

from api.metrics import Metrics
from core.access import Principal
from core.audit_settings import AuditSettings
from core.errors import StoreUnavailable
from state.audit import DAY_MS, AuditLog, SyncAuditLog, audit_fields, iter_audit
from state.guard import CircuitBreaker, GuardedRedis
from state.keys import Keyspace
from tests.support.services import free_port


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def record_async(redis_url: str, prefix: str, settings: AuditSettings, **entry: object) -> str | None:
    async def run() -> str | None:
        aclient = aioredis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
        try:
            audit = AuditLog(GuardedRedis(aclient, CircuitBreaker(), Metrics()), settings, prefix)
            return await audit.record(**entry)  # type: ignore[arg-type]
        finally:
            await aclient.aclose()

    return anyio.run(run)


def test_entries_from_the_api_and_the_cli_read_back_in_order(client: redis.Redis, redis_url: str,
                                                             key_prefix: str) -> None:
    ana = Principal("ana", "user", groups=frozenset({"legal"}))
    asked = record_async(redis_url, key_prefix, AuditSettings(), principal=ana, action="ask", route="POST /ask",
                         collection="docs", status=200, question="What does the contract say?")
    cli = SyncAuditLog(client, AuditSettings(include_questions=True), key_prefix)
    ingested = cli.record("cli:ops", "ingest", "cli ingest", collection="docs", doc_ids=["a.txt", "b.md"])
    revoked = cli.record("key:admin-bot", "key_revoke", "DELETE /keys/{name}", target="old-bot", status=204)

    entries = list(iter_audit(client, key_prefix))
    assert [e["id"] for e in entries] == [asked, ingested, revoked]
    ask, ingest, revoke = entries
    assert (ask["principal"], ask["action"], ask["route"], ask["collection"], ask["status"]) == (
        "user:ana", "ask", "POST /ask", "docs", 200)
    assert ask["question"] is None  # include_questions is off by default
    assert ingest["doc_ids"] == ["a.txt", "b.md"] and ingest["status"] == "ok"
    assert revoke["target"] == "old-bot" and revoke["status"] == 204 and revoke["collection"] is None
    assert abs(ask["time_ms"] - time.time() * 1000) < 60_000  # the id's time is now (the server's clock)


def test_the_question_is_kept_when_the_setting_says_so(client: redis.Redis, key_prefix: str) -> None:
    SyncAuditLog(client, AuditSettings(include_questions=True), key_prefix).record(
        "user:ana", "chat", "POST /chat", collection="docs", status=200, question="And the salary?")
    [entry] = iter_audit(client, key_prefix)
    assert entry["question"] == "And the salary?"


def test_since_and_principal_filter_across_pages(client: redis.Redis, key_prefix: str) -> None:
    key = Keyspace(key_prefix).audit
    day_ago_ms = int(time.time() * 1000) - DAY_MS
    for i in range(5):  # a day old, written as they were then
        client.xadd(key, audit_fields("user:ana" if i % 2 else "key:ops-bot", "ask", "POST /ask"),  # type: ignore[arg-type]
                    id=f"{day_ago_ms}-{i}")
    audit = SyncAuditLog(client, AuditSettings(), key_prefix)
    recent = [audit.record(who, "delete", "DELETE /documents/{doc_id}", collection="docs", doc_ids=[f"d{i}"])
              for i, who in enumerate(["user:ana", "key:ops-bot", "user:bo", "user:ana"])]

    assert len(list(iter_audit(client, key_prefix, page=2))) == 9
    hour_ago = datetime.now() - timedelta(hours=1)
    assert [e["id"] for e in iter_audit(client, key_prefix, since=hour_ago, page=2)] == recent
    assert [e["doc_ids"] for e in iter_audit(client, key_prefix, since=hour_ago, principal="ana", page=2)] == [
        ["d0"], ["d3"]]
    assert len(list(iter_audit(client, key_prefix, principal="key:ops-bot", page=2))) == 4
    assert list(iter_audit(client, key_prefix, principal="user:ops-bot")) == []
    assert list(iter_audit(client, key_prefix, since=datetime.now() + timedelta(hours=1))) == []


def test_writes_trim_entries_past_the_retention(client: redis.Redis, key_prefix: str) -> None:
    key = Keyspace(key_prefix).audit
    old_ms = int(time.time() * 1000) - 40 * DAY_MS
    for i in range(300):  # 40 days old: several stream nodes' worth
        client.xadd(key, audit_fields("user:ana", "ask", "POST /ask"), id=f"{old_ms}-{i}")  # type: ignore[arg-type]

    SyncAuditLog(client, AuditSettings(retention_days=0), key_prefix).record("user:ana", "ask", "POST /ask")
    assert client.xlen(key) == 301  # 0 keeps everything

    latest = SyncAuditLog(client, AuditSettings(retention_days=30), key_prefix).record("user:bo", "ask", "POST /ask")
    entries = list(iter_audit(client, key_prefix))
    old = [e for e in entries if e["time_ms"] == old_ms]
    # MINID ~ drops whole nodes (at most 100 entries each): what is left of the old ones shares the new node.
    assert len(old) <= 100 and entries[-1]["id"] == latest
    assert [e["principal"] for e in entries[len(old):]] == ["user:ana", "user:bo"]


def test_a_dead_redis_fails_no_recording_and_is_reported_on_reading(key_prefix: str) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    client = redis.Redis.from_url(dead, socket_timeout=0.5, socket_connect_timeout=0.5)
    audit = SyncAuditLog(client, AuditSettings(), key_prefix, Metrics())
    assert audit.record("user:ana", "upload", "POST /documents", collection="docs", doc_ids=["a.txt"]) is None
    assert audit.dropped == 1
    assert record_async(dead, key_prefix, AuditSettings(), principal="user:ana", action="ask",
                        route="POST /ask") is None  # fmt: skip
    with pytest.raises(StoreUnavailable):
        list(iter_audit(client, key_prefix))
