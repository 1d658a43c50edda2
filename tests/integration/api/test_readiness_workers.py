"""With uploads going to Celery, /readyz says whether any live worker consumes the upload queue."""

from __future__ import annotations

import uuid

import anyio
import httpx
import redis
import redis.asyncio as aioredis

from api.health import Readiness
from api.metrics import Metrics
from core.settings import Settings
from jobs.leases import DocumentLeases
from jobs.store import JobStore
from state.guard import CircuitBreaker, GuardedRedis
from tests.support.services import delete_prefix


class _NoIndex:
    def list_collections(self) -> list[str]:
        return []


def test_readiness_names_a_queue_no_worker_consumes(redis_url: str) -> None:
    prefix = f"ragqa-test-ready-{uuid.uuid4().hex[:8]}:"
    settings = Settings(redis={"url": redis_url, "key_prefix": prefix})
    queue = "ragqa.interactive"

    async def check() -> dict[str, str]:
        client = aioredis.Redis.from_url(redis_url)
        async with httpx.AsyncClient() as http:
            guarded = GuardedRedis(client, CircuitBreaker(3, 1.0), Metrics())
            readiness = Readiness(_NoIndex(), guarded, http, settings, upload_queue=queue)  # type: ignore[arg-type]
            _, checks = await readiness.check()
        await client.aclose()
        return checks["workers"]

    try:
        idle = anyio.run(check)
        assert idle["status"] == "degraded" and f"no worker consumes queue {queue}" in idle["detail"]
        leases = DocumentLeases(JobStore(redis.Redis.from_url(redis_url), prefix), "worker-1@test", lease_s=30)
        leases.renew([], [queue])
        assert anyio.run(check) == {"status": "ok", "detail": f"1 worker process(es) on {queue}"}
        leases.leave([queue])
        assert anyio.run(check)["status"] == "degraded"
    finally:
        delete_prefix(redis_url, prefix)
