"""Jobs through real `ragqa worker` processes: progress, bad documents, cancel, queues, topology."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from core.errors import NotFound
from jobs.records import FINAL_DOC_STATES, Job
from jobs.store import JobStore
from retrieval.backends import open_index
from tests.support.services import SHARED_REDIS, delete_prefix
from tests.support.workers import (
    COLLECTION,
    WorkerEnv,
    WorkerProcess,
    enqueue,
    ragqa,
    small_documents,
    wait_done,
    wait_job,
)


def index_counts(env: WorkerEnv, job: Job) -> dict[str, tuple[int, int]]:
    """Per document of the job: (points in the index, chunks the worker reported writing)."""
    index = open_index(env.settings().qdrant)
    try:
        out = {}
        for doc in job.documents:
            state = index.document_state(COLLECTION, doc.doc_id, "", "")
            out[doc.doc_id] = (state.points, state.chunk_count)
        return out
    finally:
        index.close()


def test_a_job_of_50_documents_completes_with_progress_moving(
    worker_env: WorkerEnv, workers: Callable[..., WorkerProcess], corpus_dir: Path
) -> None:
    folder = worker_env.root / "docs"
    small_documents(corpus_dir, folder, 50)
    worker = workers().wait_ready()
    job_id = enqueue(worker_env, folder)
    seen: list[int] = []
    job = wait_job(worker_env.store(), job_id, 300, lambda j: seen.append(
        sum(d.state in FINAL_DOC_STATES for d in j.documents)), worker)
    worker.stop()

    assert job.state == "done", job.to_dict()
    assert job.counts()["done"] == 50, job.counts()
    assert len(set(seen)) >= 3 and seen == sorted(seen), f"progress should move forward in steps: {seen}"
    assert all(d.status == "added" and d.chunks >= 1 for d in job.documents)
    counts = index_counts(worker_env, job)
    assert all(points == chunks == doc.chunks for doc, (points, chunks) in
               zip(job.documents, counts.values(), strict=True)), counts


def test_bad_documents_fail_with_their_reasons_and_the_rest_complete(
    worker_env: WorkerEnv, workers: Callable[..., WorkerProcess], corpus_dir: Path
) -> None:
    folder = worker_env.root / "docs"
    small_documents(corpus_dir, folder, 6)
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj <</Type /Catalog>> garbage \x00\xff" * 20)
    (folder / "not-a-docx.docx").write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # an empty zip: raises in python-docx
    (folder / "empty.txt").write_text("   \n")
    (folder / "huge.txt").write_text("word " * 10_000)  # 50 kB, over this test's 20 kB limit
    worker_env.extra["RAGQA_INGEST__MAX_FILE_BYTES"] = "20000"
    worker = workers().wait_ready()

    result = ragqa(worker_env, "ingest", str(folder), "--queue", "--wait")
    worker.stop()

    assert result.returncode == 1, result.stdout + result.stderr  # some documents failed
    job_id = result.stdout.split("queued job ", 1)[1].split(":", 1)[0].strip()
    job = worker_env.store().get(job_id)
    assert job.state == "partial"
    failed = {d.doc_id: d for d in job.documents if d.state == "failed"}
    reasons = {d.doc_id: (d.error_code, d.reason) for d in failed.values()}
    assert set(failed) == {"corrupt.pdf", "not-a-docx.docx", "empty.txt", "huge.txt"}, (reasons, worker.output())
    assert failed["huge.txt"].error_code == "document_too_large"
    assert failed["empty.txt"].error_code == "parse_error"
    for doc in failed.values():
        assert doc.reason and doc.name in doc.reason, doc  # each reason names its file
        assert doc.reason in result.stdout.replace("\n", "") or doc.doc_id in result.stdout
    assert job.counts()["done"] == 6


def test_cancel_stops_pending_documents_and_keeps_indexed_ones_whole(
    worker_env: WorkerEnv, workers: Callable[..., WorkerProcess], corpus_dir: Path
) -> None:
    folder = worker_env.root / "docs"
    small_documents(corpus_dir, folder, 40)
    job_id = enqueue(worker_env, folder)
    worker = workers().wait_ready()
    store = worker_env.store()
    wait_done(store, job_id, 3, worker)

    store.request_cancel(job_id)  # at once: a `ragqa` process takes seconds to start, the job may end first
    job = wait_job(store, job_id, 60, worker=worker)
    worker.stop()
    cancel = ragqa(worker_env, "jobs", "cancel", job_id, "--json")  # over already: the command says so
    assert cancel.returncode == 0, cancel.stdout + cancel.stderr
    assert json.loads(cancel.stdout)["cancel_requested"] is True and json.loads(cancel.stdout)["state"] == "cancelled"

    assert job.state == "cancelled"
    counts = job.counts()
    assert counts["cancelled"] >= 5 and counts["done"] >= 3, counts  # the cancel landed mid-job
    stray = [(d.doc_id, d.state, d.error_code, d.reason) for d in job.documents if d.state not in ("done", "cancelled")]
    assert counts["done"] + counts["cancelled"] == 40, (counts, stray)
    indexed = index_counts(worker_env, job)
    for doc in job.documents:
        points, chunk_count = indexed[doc.doc_id]
        if doc.state == "done":
            assert points == chunk_count == doc.chunks > 0, (doc, points)
        else:
            assert points == 0, (doc, points)  # a cancelled document left nothing behind


def test_an_upload_is_not_starved_by_a_bulk_import(
    worker_env: WorkerEnv, workers: Callable[..., WorkerProcess], corpus_dir: Path
) -> None:
    from jobs.spec import JobFile, JobSpec, new_job_id
    from state.endpoint import RedisEndpoint
    from workers.app import create_celery_app
    from workers.runner import CeleryJobRunner

    bulk = worker_env.root / "bulk"
    small_documents(corpus_dir, bulk, 60)
    upload = small_documents(corpus_dir, worker_env.root / "upload", 1)[0]
    bulk_id = enqueue(worker_env, bulk)  # the bulk queue, 60 tasks ahead of the upload
    settings = worker_env.settings()
    store = worker_env.store()
    upload_id = new_job_id()
    runner = CeleryJobRunner(create_celery_app(settings, RedisEndpoint(settings.redis)), worker_env.queue, store)
    # owns_files: like the API's spooled uploads, the folder goes once the job is over.
    runner.submit(JobSpec(upload_id, COLLECTION, (JobFile("upload.txt", "upload.txt", upload),), owns_files=True))

    worker = workers().wait_ready()
    upload_job = wait_job(store, upload_id, 120, worker=worker)
    bulk_finished = sum(d.state in FINAL_DOC_STATES for d in store.get(bulk_id).documents)
    wait_job(store, bulk_id, 300, worker=worker)
    worker.stop()

    assert upload_job.state == "done" and upload_job.documents[0].status == "added"
    assert not upload.parent.exists() and bulk.exists()  # the upload's spool folder went, the user's files stay
    assert bulk_finished <= 10, f"the upload waited for {bulk_finished} of 60 bulk documents"


def test_a_wrong_topology_is_a_clear_error_at_start(
    worker_env: WorkerEnv, workers: Callable[..., WorkerProcess]
) -> None:
    prefork = ragqa(worker_env, "worker", "--pool", "prefork", "--concurrency", "2", timeout_s=120)
    assert prefork.returncode == 2
    assert "configuration_error" in prefork.stderr and "RAGQA_QDRANT__URL" in prefork.stderr

    first = workers().wait_ready()
    second = ragqa(worker_env, "worker", timeout_s=120)
    assert first.alive
    assert second.returncode == 2, second.stderr
    assert "index_locked" in second.stderr and str(worker_env.root / "qdrant") in second.stderr


def test_jobs_command_lists_and_shows_jobs_kept_in_the_jobs_redis(
    worker_env: WorkerEnv, workers: Callable[..., WorkerProcess], corpus_dir: Path
) -> None:
    jobs_url = SHARED_REDIS.rsplit("/", 1)[0] + "/3"  # apart from the cache, as with an evicting cache Redis
    worker_env.extra["RAGQA_REDIS__JOBS_URL"] = jobs_url
    folder = worker_env.root / "docs"
    small_documents(corpus_dir, folder, 3)
    worker = workers().wait_ready()
    try:
        job_id = enqueue(worker_env, folder)
        jobs = JobStore(redis.Redis.from_url(jobs_url), worker_env.prefix)
        job = wait_job(jobs, job_id, 120, worker=worker)

        listed = ragqa(worker_env, "jobs", "--json")
        shown = ragqa(worker_env, "jobs", "show", job_id)
        missing = ragqa(worker_env, "jobs", "show", "0" * 32)
    finally:
        delete_prefix(jobs_url, worker_env.prefix)
    assert job.state == "done" and job.counts()["done"] == 3
    with pytest.raises(NotFound):
        worker_env.store().get(job_id)  # nothing of the job in the cache Redis
    assert listed.returncode == 0 and shown.returncode == 0, listed.stderr + shown.stderr
    assert [j["job_id"] for j in json.loads(listed.stdout)] == [job_id]
    assert job_id in shown.stdout and "3/3 documents" in shown.stdout
    assert missing.returncode == 2 and "not_found" in missing.stderr


def test_a_fifo_a_socket_and_hostile_symlinks_fail_alone_through_a_worker(
    worker_env: WorkerEnv, workers: Callable[..., WorkerProcess], corpus_dir: Path
) -> None:
    import time

    from tests.support.hostile_files import hostile_folder

    folder = worker_env.root / "cloned-repo"
    expected = hostile_folder(folder, corpus_dir)
    worker = workers().wait_ready()
    started = time.monotonic()
    result = ragqa(worker_env, "ingest", str(folder), "--queue", "--wait")
    took = time.monotonic() - started
    worker.stop()

    assert result.returncode == 1, result.stdout + result.stderr
    job_id = result.stdout.split("queued job ", 1)[1].split(":", 1)[0].strip()
    job = worker_env.store().get(job_id)
    states = {d.doc_id: d for d in job.documents}
    assert set(states) == set(expected)
    for doc_id, word in expected.items():
        doc = states[doc_id]
        if word is None:
            assert doc.state == "done" and doc.chunks >= 1, doc
        else:
            assert doc.state == "failed" and doc.error_code == "not_a_regular_file" and word in (doc.reason or ""), doc
    assert took < 30, took
