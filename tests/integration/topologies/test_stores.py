"""What the API keeps in Redis, on one server, a Redis Cluster and a Sentinel-watched master alike: the
answer cache (exact and semantic) with its citation sets and erasure, rate limits, feedback, scoped API
keys and the audit trail, through the clients ``RedisEndpoint`` builds from each URL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import numpy as np
import pytest
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster

from api.metrics import Metrics
from core.audit_settings import AuditSettings
from core.errors import RateLimited, StoreUnavailable
from core.settings import RedisSettings
from state.answer_cache import AnswerCache
from state.api_keys import KeyAdmin, KeyLookup, key_digest
from state.audit import SyncAuditLog, iter_audit
from state.endpoint import RedisEndpoint
from state.erasure import erase_document
from state.feedback import FeedbackStore, iter_feedback
from state.guard import CircuitBreaker, GuardedRedis
from state.keys import Keyspace
from state.rate_limit import RateLimiter
from state.semantic_cache import SemanticCache
from tests.integration.topologies.conftest import RedisTarget
from tests.support.services import free_port

T = TypeVar("T")


class Versions:
    """The index's version tokens, as the cache reads them (``retrieval.versions.VersionSource``)."""

    def __init__(self) -> None:
        self.tokens = {"docs": "v1"}

    def version(self, collection: str) -> str:
        return self.tokens.get(collection, "absent")

    def cached_version(self, collection: str) -> str | None:
        return self.tokens.get(collection)


def on_loop(target: RedisTarget, body: Callable[[GuardedRedis], Awaitable[T]]) -> T:
    """Runs ``body`` with the API's guarded asyncio client on ``target``, in an event loop of its own."""
    async def run() -> T:
        client = target.endpoint.async_client()
        try:
            return await body(GuardedRedis(client, CircuitBreaker(), Metrics()))
        finally:
            await client.aclose()

    return anyio.run(run)


def payload(answer_id: str, doc_id: str) -> dict[str, object]:
    return {"answer_id": answer_id, "question": "Who?", "text": "Lincoln [1].", "collection": "docs",
            "citations": [{"number": 1, "doc_id": doc_id, "snippet": "Lincoln was born in 1809."}],
            "cached": False, "timings_ms": {"total": 1.0}}  # fmt: skip


def test_the_clients_match_the_topology(redis_target: RedisTarget) -> None:
    client = redis_target.endpoint.client()
    try:
        assert isinstance(client, RedisCluster) == (redis_target.name == "cluster")
        assert client.ping()
    finally:
        client.close()
    aclient = redis_target.endpoint.async_client()
    assert isinstance(aclient, AsyncRedisCluster) == (redis_target.name == "cluster")


def test_a_cluster_no_node_of_which_answers_is_unavailable() -> None:
    endpoint = RedisEndpoint.from_settings(RedisSettings(url=f"redis+cluster://127.0.0.1:{free_port()}/"))
    with pytest.raises(StoreUnavailable, match="cannot be reached"):
        endpoint.client()


def test_cached_answers_are_served_cited_and_erased(redis_target: RedisTarget) -> None:
    versions, prefix = Versions(), redis_target.prefix

    async def body(guarded: GuardedRedis) -> None:
        cache = AnswerCache(guarded, versions, Metrics(), prefix=prefix, ttl_s=60, answer_ttl_s=60)
        for n in range(6):  # fingerprints in several slots, citing documents in several slots
            await cache.save(f"fp{n}", "docs", "v1", payload(f"a{n}", f"doc{n % 3}.txt"), [f"doc{n % 3}.txt"])
        hit = await cache.lookup("fp4", "docs")
        assert hit.payload is not None and hit.payload["answer_id"] == "a4"
        versions.tokens["docs"] = "v2"  # the index moved: nothing cached before is served
        assert (await cache.lookup("fp4", "docs")).payload is None
        assert (await cache.answer_record("a5")) is not None
        semantic = SemanticCache(guarded, cache, Metrics(), prefix=prefix, threshold=0.9, max_entries=10, ttl_s=60)
        await cache.save("fp9", "docs", "v2", payload("a9", "doc0.txt"), ["doc0.txt"])
        await semantic.add("scope", "v2", "fp9", np.array([1.0, 0.0], dtype=np.float32))
        near = await semantic.lookup("scope", "v2", np.array([0.99, 0.14], dtype=np.float32))
        assert near is not None and near["answer_id"] == "a9"

    on_loop(redis_target, body)
    client = redis_target.endpoint.client()
    try:
        erased = erase_document(client, prefix, "docs", "doc0.txt")  # one DEL per key: they span slots
        assert (erased.cached_answers, erased.answer_records) == (3, 3)
        assert not client.exists(Keyspace(prefix).citations("docs", "doc0.txt"))
        assert client.exists(Keyspace(prefix).answer_record("a1"))  # another document's answers stay
    finally:
        client.close()


def test_the_rate_limit_holds_across_calls(redis_target: RedisTarget) -> None:
    async def body(guarded: GuardedRedis) -> int:
        limiter = RateLimiter(guarded, Metrics(), prefix=redis_target.prefix, per_minute=60, burst=3)
        allowed = 0
        for _ in range(5):
            try:
                await limiter.check("widget:t1:127.0.0.1")
                allowed += 1
            except RateLimited as exc:
                assert exc.retry_after_s > 0
        await limiter.check("another-client")  # a bucket per identity
        return allowed

    assert on_loop(redis_target, body) == 3


def test_feedback_is_recorded_and_exported(redis_target: RedisTarget) -> None:
    prefix = redis_target.prefix

    async def body(guarded: GuardedRedis) -> None:
        cache = AnswerCache(guarded, Versions(), Metrics(), prefix=prefix, ttl_s=60, answer_ttl_s=60)
        await cache.save("fp1", "docs", "v1", payload("a1", "doc.txt"), ["doc.txt"])
        store = FeedbackStore(guarded, cache, prefix)
        await store.record("a1", "up", "right")
        await store.record("a1", "down", "not quite")

    on_loop(redis_target, body)
    client = redis_target.endpoint.client()
    try:
        rows = list(iter_feedback(client, prefix))
    finally:
        client.close()
    assert [(r["answer_id"], r["rating"], r["comment"]) for r in rows] == [("a1", "up", "right"),
                                                                           ("a1", "down", "not quite")]
    assert rows[0]["answer"]["text"] == "Lincoln [1]."


def test_api_keys_and_the_audit_trail(redis_target: RedisTarget) -> None:
    prefix = redis_target.prefix
    client = redis_target.endpoint.client()
    try:
        admin = KeyAdmin(client, prefix)
        secret, record = admin.create("ops-bot", roles=("ask",), collections=("docs",))
        admin.create("other-bot", roles=("ingest",))
        assert sorted(r.name for r in admin.list()) == ["ops-bot", "other-bot"]
        admin.revoke("other-bot")
        trail = SyncAuditLog(client, AuditSettings(), prefix)
        first = trail.record("cli:ops", "key_create", "cli keys create", target="ops-bot")
        second = trail.record("cli:ops", "key_revoke", "cli keys revoke", target="other-bot")
        assert [e["id"] for e in iter_audit(client, prefix)] == [first, second]
    finally:
        client.close()

    async def body(guarded: GuardedRedis) -> None:
        principal = await KeyLookup(guarded, prefix).principal(key_digest(secret))
        assert principal is not None and principal.name == "ops-bot"

    on_loop(redis_target, body)
    client = redis_target.endpoint.client()
    try:
        assert [r.name for r in KeyAdmin(client, prefix).list()] == [record.name]
    finally:
        client.close()


@pytest.mark.parametrize("topology", ["sentinel"])
def test_celery_publishes_through_the_sentinels_master(topology: str, request: pytest.FixtureRequest) -> None:
    from core.settings import Settings
    from core.worker_settings import WorkerSettings
    from tests.integration.topologies.conftest import url_of
    from workers.app import INGEST_DOCUMENT, create_celery_app, release_connections

    url = url_of(topology, request)
    settings = Settings(_env_file=None, redis=RedisSettings(url=url),  # type: ignore[call-arg]
                        workers=WorkerSettings(broker_key_prefix="ragqa-topo-broker:"))
    endpoint = RedisTarget(topology, url, "unused:").endpoint
    app = create_celery_app(settings, endpoint)
    assert app.conf.broker_url.startswith("sentinel://")
    try:
        app.send_task(INGEST_DOCUMENT, args=[{}], queue="ragqa-topo-queue")
        client = endpoint.client()
        assert client.llen("ragqa-topo-broker:ragqa-topo-queue") == 1  # on the master the sentinel names
        client.delete("ragqa-topo-broker:ragqa-topo-queue")
    finally:
        release_connections(app)
