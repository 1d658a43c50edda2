"""A killed worker's documents come back within seconds through their leases, not after the
broker's visibility timeout; `/readyz`'s worker check counts the live consumers of a queue."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from jobs.leases import DocumentLeases
from tests.support.workers import WorkerEnv, WorkerProcess, enqueue, small_documents, wait_done, wait_job


def test_a_killed_workers_documents_are_handed_on_within_a_minute(
    worker_env: WorkerEnv, workers: Callable[..., WorkerProcess], corpus_dir: Path
) -> None:
    # The broker alone would hand the killed worker's tasks on after 15 minutes.
    worker_env.extra.update(RAGQA_WORKERS__VISIBILITY_TIMEOUT_S="900", RAGQA_WORKERS__TASK_TIME_LIMIT_S="600",
                            RAGQA_WORKERS__DOCUMENT_LEASE_S="6")
    folder = worker_env.root / "docs"
    small_documents(corpus_dir, folder, 24, chars=3000)
    first = workers().wait_ready()
    job_id = enqueue(worker_env, folder)
    store = worker_env.store()
    at_kill = wait_done(store, job_id, 4, first)
    first.kill9()
    in_flight = {d.doc_id for d in at_kill.documents if d.state in ("parsing", "embedding", "indexing")}

    second = workers().wait_ready()
    started = time.monotonic()
    job = wait_job(store, job_id, 120, worker=second)
    finished_s = time.monotonic() - started
    live = DocumentLeases(store, "probe", 6).consumers(worker_env.queue)
    second.stop()

    assert job.state == "done" and job.counts()["done"] == 24, job.counts()
    assert finished_s < 60, f"the job ended {finished_s:.0f} s after the new worker started"
    assert live == 1  # the second worker, alive; the killed one's presence lapsed with its lease
    assert DocumentLeases(store, "probe", 6).consumers(worker_env.queue) == 0  # a stopped worker leaves
    for doc in job.documents:
        assert doc.chunks > 0, doc
    if in_flight:  # handed on, not redelivered by the broker: each was run by a second delivery
        deliveries = store.client.hgetall(store.keyspace.job_deliveries(job_id))
        assert all(int(deliveries[d.encode()]) >= 2 for d in in_flight if d.encode() in deliveries), deliveries
