"""Delivery under failure, with real worker processes: a killed worker, a poison document, a
transient index failure, a Redis restart. Every document must end indexed exactly once."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.integration.workers.test_worker_jobs import index_counts
from tests.support.services import RedisServer
from tests.support.workers import (
    WorkerEnv,
    WorkerProcess,
    enqueue,
    small_documents,
    wait_done,
    wait_job,
)

FAULTY = [sys.executable, str(Path(__file__).with_name("faulty_worker.py"))]


def assert_indexed_exactly_once(env: WorkerEnv, job_id: str, expected_done: int) -> None:
    job = env.store().get(job_id)
    failed = {d.doc_id: (d.error_code, d.reason) for d in job.documents if d.state != "done"}
    assert job.state == ("partial" if failed else "done"), job.to_dict()  # finished; partial: some failed
    assert job.counts()["done"] == expected_done, (job.counts(), failed)
    indexed = index_counts(env, job)
    for doc in job.documents:
        if doc.state == "done":
            points, chunk_count = indexed[doc.doc_id]
            assert points == chunk_count == doc.chunks > 0, (doc, points, chunk_count)
    stats_total = sum(p for p, _ in indexed.values())
    assert stats_total == sum(d.chunks for d in job.documents if d.state == "done")


def test_a_killed_worker_loses_nothing_and_duplicates_nothing(
    worker_env: WorkerEnv, workers: Callable[..., WorkerProcess], corpus_dir: Path
) -> None:
    folder = worker_env.root / "docs"
    small_documents(corpus_dir, folder, 40, chars=3000)  # 2-4 chunks each: kills land mid-document
    first = workers().wait_ready()
    job_id = enqueue(worker_env, folder)
    store = worker_env.store()
    at_kill = wait_done(store, job_id, 5, first)
    in_flight = [d.doc_id for d in at_kill.documents if d.state in ("parsing", "embedding", "indexing")]
    first.kill9()  # the main process: its two reserved tasks stay unacknowledged in Redis

    second = workers().wait_ready()
    wait_job(store, job_id, 300, worker=second)
    second.stop()

    assert_indexed_exactly_once(worker_env, job_id, 40)
    job = store.get(job_id)
    assert job.counts()["failed"] == 0
    assert in_flight, "the kill should have interrupted a document"
    assert at_kill.counts()["done"] < 40 - 5, at_kill.counts()


def test_a_poison_document_fails_after_max_deliveries_and_a_flaky_one_retries(
    worker_env: WorkerEnv, workers: Callable[..., WorkerProcess], corpus_dir: Path
) -> None:
    folder = worker_env.root / "docs"
    small_documents(corpus_dir, folder, 12, chars=3000)  # the other thread is busy when the poison strikes
    # First in the job's order, so it starts beside an innocent document in the other thread.
    (folder / "0-poison.txt").write_text("This document is fine to read. KILL-THE-WORKER\n")
    (folder / "flaky.txt").write_text("Kangaroos are marsupials. FLAKY-INDEX\n")
    worker_env.extra.update(RAGQA_WORKERS__MAX_DELIVERIES="2", RAGQA_TEST_FLAKY_DIR=str(worker_env.root))
    job_id = enqueue(worker_env, folder)
    store = worker_env.store()

    restarts = 0
    worker = workers(launcher=FAULTY).wait_ready()
    deadline = time.monotonic() + 400
    while store.get(job_id).state in ("queued", "running"):
        assert time.monotonic() < deadline, f"{store.get(job_id).to_dict()}\n{worker.output()}"
        if not worker.alive:  # killed by the poison document: a supervisor would restart it
            restarts += 1
            worker = workers(launcher=FAULTY).wait_ready()
        time.sleep(0.25)
    worker.stop()

    job = store.get(job_id)
    docs = {d.doc_id: d for d in job.documents}
    assert docs["0-poison.txt"].state == "failed" and docs["0-poison.txt"].error_code == "poison_document"
    assert "3 times" in (docs["0-poison.txt"].reason or ""), docs["0-poison.txt"]
    assert restarts == 2, restarts  # it killed two workers (the second time alone), then was not run again
    assert docs["flaky.txt"].state == "done" and docs["flaky.txt"].status == "added", docs["flaky.txt"]
    assert (worker_env.root / "flaky.txt.attempts").read_text() == "3"
    assert_indexed_exactly_once(worker_env, job_id, 13)  # no innocent neighbour was blamed


def test_a_redis_restart_mid_job_and_the_job_still_completes(
    worker_env: WorkerEnv, workers: Callable[..., WorkerProcess], corpus_dir: Path, own_redis: RedisServer
) -> None:
    env = WorkerEnv(worker_env.root, own_redis.url, worker_env.prefix)
    folder = env.root / "docs"
    small_documents(corpus_dir, folder, 40, chars=3000)
    worker = workers(env=env).wait_ready()
    job_id = enqueue(env, folder)
    store = env.store()
    assert wait_done(store, job_id, 4, worker).counts()["done"] < 40 - 5, "the restart should land mid-job"
    own_redis.stop()  # SIGTERM: the append-only file keeps the queue, the job and the unacked tasks
    time.sleep(3)
    own_redis.start()
    wait_job(store, job_id, 300, worker=worker)
    assert worker.alive, worker.output()
    worker.stop()

    assert_indexed_exactly_once(env, job_id, 40)
