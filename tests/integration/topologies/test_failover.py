"""A Sentinel failover in the middle of an ingestion job and of a stream of cached questions: the master is
killed, the sentinel promotes the replica, and both kinds of client find the new master by themselves.

The job runs on ``ragqa serve``'s in-process runner (the state machine Celery workers share): its store calls
fail while no master answers and are retried (``jobs.document``), so at the end every document is done
exactly once: none lost (the job's record holds each, final) and none repeated (the pipeline ran each once).
The group is this test's own: it ends with one data node.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from redis.exceptions import RedisError

from api.metrics import Metrics
from core.errors import StoreUnavailable
from core.settings import RedisSettings
from core.worker_settings import WorkerSettings
from ingest.report import DocumentResult, IngestReport
from ingest.sources import SourceDocument
from jobs.records import Job
from jobs.runner import InProcessJobRunner
from jobs.store import JobStore
from state.answer_cache import AnswerCache
from state.endpoint import RedisEndpoint
from state.guard import CircuitBreaker, GuardedRedis
from tests.support.jobs import ScriptedPipeline, make_spec
from tests.support.redis_topologies import sentinel_group

DOCUMENTS = 40
# Each store call may be retried for 30 s: the failover takes about one.
LIMITS = WorkerSettings(max_retries=2, retry_backoff_s=1, retry_backoff_max_s=1, store_retry_s=30)


class SlowPipeline(ScriptedPipeline):
    """A scripted pipeline whose documents take a little time, so the job is still running at the failover."""

    def ingest(self, sources: Iterable[SourceDocument], collection: str,
               on_result: Callable[[DocumentResult], None] | None = None,
               on_chunks: Callable[[int], None] | None = None,
               on_stage: Callable[[str, Any], object] | None = None) -> IngestReport:
        time.sleep(0.02)
        return super().ingest(sources, collection, on_result, on_chunks, on_stage)


class Versions:
    def version(self, collection: str) -> str:
        return "v1"

    def cached_version(self, collection: str) -> str | None:
        return "v1"


@dataclass
class QuestionStream:
    """Saves and looks up answers without pause on the API's asyncio client, on a thread of its own."""

    endpoint: RedisEndpoint
    stop: threading.Event = field(default_factory=threading.Event)
    outcomes: list[tuple[float, bool]] = field(default_factory=list)  # (when, served from the cache)
    port_at_end: int | None = None

    def run(self) -> None:
        anyio.run(self._run)

    async def _run(self) -> None:
        client = self.endpoint.async_client()
        guarded = GuardedRedis(client, CircuitBreaker(failures=3, reset_s=0.1), Metrics())
        cache = AnswerCache(guarded, Versions(), Metrics(), prefix=self.endpoint.settings.key_prefix, ttl_s=60,
                            answer_ttl_s=60)  # fmt: skip
        try:
            n = 0
            while not self.stop.is_set():
                n += 1
                answer = {"answer_id": f"a{n}", "text": f"answer {n}", "cached": False, "timings_ms": {}}
                await cache.save(f"q{n}", "docs", "v1", answer, [f"doc{n % 7}.txt"])
                found = await cache.lookup(f"q{n}", "docs")
                self.outcomes.append((time.monotonic(), found.payload is not None))
                await anyio.sleep(0.005)
            self.port_at_end = await port_of(client)
        finally:
            await client.aclose()


async def port_of(client: Any) -> int:
    """The port of the server ``client`` talks to. A client's first call after a failover may still fail on a
    connection to the old master (redis-py reconnects on the next one): the callers in ragqa retry."""
    for _ in range(5):
        try:
            return int((await client.info("server"))["tcp_port"])
        except RedisError:
            await anyio.sleep(0.1)
    raise AssertionError("the client found no master")


def job_over(store: JobStore, job_id: str, timeout_s: float) -> Job:
    """Waits for the job to end, reading through the outage (the test's reads, not the job's, may fail)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            job = store.get(job_id)
        except StoreUnavailable:
            time.sleep(0.1)
            continue
        if job.state not in ("queued", "running"):
            return job
        time.sleep(0.02)
    raise AssertionError(f"the job did not end within {timeout_s} s")


def test_a_failover_mid_job_and_mid_questions_loses_and_repeats_nothing(tmp_path: Path) -> None:
    with sentinel_group(tmp_path / "sentinel") as group:
        settings = RedisSettings(url=group.url, key_prefix=f"failover-{uuid.uuid4().hex[:8]}:",
                                 socket_timeout_s=0.5, connect_timeout_s=0.5)  # fmt: skip
        endpoint = RedisEndpoint.from_settings(settings)
        store = JobStore(endpoint.client(), settings.key_prefix, ttl_s=3600)
        pipeline = SlowPipeline()
        runner = InProcessJobRunner(store, pipeline, LIMITS)  # type: ignore[arg-type]
        stream = QuestionStream(endpoint)
        asking = threading.Thread(target=stream.run, name="questions")
        names = [f"doc{i:02}.txt" for i in range(DOCUMENTS)]
        spec = make_spec(tmp_path, *names)
        asking.start()
        try:
            runner.submit(spec)
            deadline = time.monotonic() + 20
            while sum(d.state == "done" for d in store.get(spec.job_id).documents) < DOCUMENTS // 4:
                assert time.monotonic() < deadline, "the job did not start"
                time.sleep(0.01)
            killed_at = time.monotonic()
            new_master = group.kill_master()
            job = job_over(store, spec.job_id, timeout_s=60)
            time.sleep(0.3)  # a few more questions on the new master
        finally:
            stream.stop.set()
            asking.join(30)
            runner.close()

        # No document lost: the job's record holds each one, done, and the job closed once.
        assert job.state == "done" and job.counts()["done"] == DOCUMENTS, job.to_dict()
        assert sorted(d.doc_id for d in job.documents) == names
        assert int(store.client.hlen(store.keyspace.job_docs(spec.job_id))) == DOCUMENTS
        assert not store.client.sismember(store.keyspace.open_jobs, spec.job_id)
        # None repeated: each document went through the pipeline once.
        assert sorted(pipeline.runs) == names
        # Both clients followed the sentinel to the new master.
        assert int(store.client.info("server")["tcp_port"]) == new_master
        assert stream.port_at_end == new_master
        after = [served for when, served in stream.outcomes if when > killed_at]
        assert after and after[-10:] == [True] * 10, "questions after the failover are cached and served again"
        assert len(stream.outcomes) > 50
        store.client.close()
