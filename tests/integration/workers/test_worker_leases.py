"""A killed worker's documents come back within seconds through their leases, not after the
broker's visibility timeout; `/readyz`'s worker check counts the live consumers of a queue."""

from __future__ import annotations

import base64
import json
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
    wait_done(store, job_id, 4, first)
    first.kill9()
    # Read after the kill: a document that finished between the last poll and the kill is not in flight.
    at_kill = store.get(job_id)
    in_flight = {d.doc_id for d in at_kill.documents if d.state in ("parsing", "embedding", "indexing")}

    second = workers().wait_ready()
    started = time.monotonic()
    job = wait_job(store, job_id, 120, worker=second)
    finished_s = time.monotonic() - started
    # The killed worker's presence lapses with its lease (6 s): the job may end sooner than that.
    probe = DocumentLeases(store, "probe", 6)
    deadline = time.monotonic() + 7
    while (live := probe.consumers(worker_env.queue)) > 1 and time.monotonic() < deadline:
        time.sleep(0.2)
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


def test_a_message_the_broker_lost_is_sent_again_and_its_job_ends(
    worker_env: WorkerEnv, workers: Callable[..., WorkerProcess], corpus_dir: Path
) -> None:
    # Kombu's Redis transport pops a message, then records it as unacknowledged: SIGKILL between the
    # two loses it for good (no visibility timeout brings it back). Here the pop is done by hand.
    worker_env.extra.update(RAGQA_WORKERS__DOCUMENT_LEASE_S="2")
    folder = worker_env.root / "docs"
    small_documents(corpus_dir, folder, 4)
    job_id = enqueue(worker_env, folder)
    store = worker_env.store()
    [queue_key] = [k for k in store.client.keys(f"{worker_env.prefix}broker:*") if store.client.type(k) == b"list"]
    lost = json.loads(base64.b64decode(json.loads(store.client.rpop(queue_key))["body"]))[0][0]["file"]["doc_id"]

    worker = workers().wait_ready()
    job = wait_job(store, job_id, 60, worker=worker)
    worker.stop()

    assert job.state == "done" and job.counts()["done"] == 4, job.counts()
    assert [line for line in worker.output().splitlines() if "worker.document_sent_again" in line and lost in line]
