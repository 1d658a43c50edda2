"""Document leases over a real job store: a held document stays, a stalled one is handed on once."""

from __future__ import annotations

import time
from pathlib import Path

from jobs.leases import DocumentLeases
from jobs.store import JobStore
from tests.support.jobs import make_spec


def test_a_document_whose_worker_died_is_handed_on_once(tmp_path: Path, store: JobStore) -> None:
    spec = make_spec(tmp_path, "a.txt", "b.txt", "c.txt")
    store.create(spec, runner="celery", queue="q.interactive")
    dead, alive, sweeper, other = (DocumentLeases(store, name, lease_s=0.3) for name in ("dead", "alive", "s1", "s2"))
    a, b, c = spec.tasks()
    assert dead.hold(a) and alive.hold(b) and dead.hold(c)
    store.set_document(spec.job_id, "a.txt", "embedding")
    store.set_document(spec.job_id, "b.txt", "parsing")  # c.txt: received, not yet claimed
    assert not other.hold(b)  # a second delivery of a document a live worker runs: skip it
    assert sweeper.take_stalled() == []  # all held

    time.sleep(0.4)  # both leases lapse; only the live worker renews
    alive.renew([b], ["q.interactive"])
    taken = sweeper.take_stalled()
    assert sorted((t.file.doc_id, q) for t, q in taken) == [("a.txt", "q.interactive"), ("c.txt", "q.interactive")]
    doc = store.document(spec.job_id, "a.txt")
    assert doc is not None and doc.state == "queued" and "handed to another" in (doc.reason or "")
    assert other.take_stalled() == []  # queued again: nobody hands it on twice
    assert other.hold(a)  # the new delivery's worker takes it
    other.release(a)
    alive.release(b)
    assert other.take_stalled() == []  # released documents are no longer active
    assert alive.consumers("q.interactive") == 1


def test_in_process_and_finished_jobs_are_not_swept(tmp_path: Path, store: JobStore) -> None:
    spec = make_spec(tmp_path, "a.txt")
    store.create(spec, runner="inprocess", owner="serve-1")
    store.set_document(spec.job_id, "a.txt", "parsing")
    done = make_spec(tmp_path, "b.txt")
    store.create(done, runner="celery", queue="q")
    store.set_document(done.job_id, "b.txt", "done", status="added", chunks=1)
    assert DocumentLeases(store, "s", lease_s=1).take_stalled() == []
    assert [job_id for job_id, _ in store.open_jobs()] == [spec.job_id]  # the done one left the open set
