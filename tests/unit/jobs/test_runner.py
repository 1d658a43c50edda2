"""The in-process runner: jobs run through the shared state machine, and a dead runner's jobs resume."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from core.worker_settings import WorkerSettings
from jobs.records import Job
from jobs.runner import InProcessJobRunner
from jobs.store import JobStore
from tests.support.jobs import ScriptedPipeline, make_spec

LIMITS = WorkerSettings(max_retries=2, retry_backoff_s=1, retry_backoff_max_s=1, store_retry_s=1)


def wait_over(store: JobStore, job_id: str, timeout_s: float = 20) -> Job:
    deadline = time.monotonic() + timeout_s
    while (job := store.get(job_id)).state in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.02)
    return job


def runner(store: JobStore, pipeline: ScriptedPipeline, **kwargs: object) -> InProcessJobRunner:
    return InProcessJobRunner(store, pipeline, LIMITS, **kwargs)  # type: ignore[arg-type]


def test_a_job_runs_every_document_retries_the_flaky_one_and_fails_the_bad_ones(
        tmp_path: Path, store: JobStore, pipeline: ScriptedPipeline) -> None:
    outcomes: list[str | None] = []
    jobs: list[str] = []
    ingest = runner(store, pipeline, on_document=lambda o: outcomes.append(o.state), on_job=jobs.append)
    spec = make_spec(tmp_path, "a.txt", "bad.txt", "boom.txt", "flaky.txt")
    try:
        ingest.submit(spec)
        job = wait_over(store, spec.job_id)
    finally:
        ingest.close()
    states = {d.doc_id: (d.state, d.error_code) for d in job.documents}
    assert states == {"a.txt": ("done", None), "bad.txt": ("failed", "parse_error"),
                      "boom.txt": ("failed", "internal_error"), "flaky.txt": ("done", None)}
    assert job.state == "partial" and job.runner == "inprocess"  # finished, with failed documents
    assert pipeline.runs.count("flaky.txt") == 2
    assert sorted(outcomes, key=str) == ["done", "done", "failed", "failed"] and jobs == ["partial"]
    assert not spec.files[0].path.parent.exists()


def test_a_stop_finishes_the_current_document_and_the_next_runner_resumes_the_rest(
        tmp_path: Path, store: JobStore) -> None:
    first = ScriptedPipeline()
    spec = make_spec(tmp_path, "block.txt", "b.txt", "c.txt")
    stopping = runner(store, first)
    stopping.submit(spec)
    assert first.started.wait(10)
    closer = threading.Thread(target=stopping.close)
    closer.start()
    time.sleep(0.1)
    first.release.set()  # the document in progress finishes; the stop takes no new one
    closer.join(10)
    paused = store.get(spec.job_id)
    states = {d.doc_id: d.state for d in paused.documents}
    assert paused.state == "running" and states == {"block.txt": "done", "b.txt": "queued", "c.txt": "queued"}
    assert spec.files[1].path.exists()  # the spool stays for the resumed job

    second = ScriptedPipeline()
    resuming = runner(store, second)
    try:
        assert resuming.recover() == [spec.job_id]
        job = wait_over(store, spec.job_id)
    finally:
        resuming.close()
    assert job.state == "done" and second.runs == ["b.txt", "c.txt"]  # the done one is not run again


def test_a_live_runner_keeps_its_jobs_and_only_one_runner_claims_an_orphan(
        tmp_path: Path, store: JobStore, pipeline: ScriptedPipeline) -> None:
    alive = runner(store, ScriptedPipeline())
    held = make_spec(tmp_path, "block.txt")
    orphan = make_spec(tmp_path, "a.txt")
    store.create(orphan, runner="inprocess", owner="crashed-host:1:dead")  # its runner's lease is gone
    contenders = [runner(store, pipeline) for _ in range(2)]
    try:
        alive.submit(held)
        claimed = [c.recover() for c in contenders]
        assert sorted(claimed, key=len) == [[], [orphan.job_id]]  # the live runner's job is not taken
        assert wait_over(store, orphan.job_id).state == "done"
        assert store.get(held.job_id).state in ("queued", "running")
    finally:
        alive.pipeline.release.set()  # type: ignore[attr-defined]
        for r in (alive, *contenders):
            r.close()


def test_a_document_in_progress_when_the_runner_died_counts_as_a_crash(
        tmp_path: Path, store: JobStore, pipeline: ScriptedPipeline) -> None:
    spec = make_spec(tmp_path, "a.txt", "b.txt")
    store.create(spec, runner="inprocess", owner="crashed-host:1:dead")
    for _ in range(3):  # it was being ingested each of the three times its runner died
        store.count_delivery(spec.job_id, "a.txt")
    store.count_solo_run(spec.job_id, "a.txt")
    store.set_document(spec.job_id, "a.txt", "parsing")
    resuming = runner(store, pipeline)
    try:
        resuming.recover()
        job = wait_over(store, spec.job_id)
    finally:
        resuming.close()
    states = {d.doc_id: (d.state, d.error_code) for d in job.documents}
    assert states == {"a.txt": ("failed", "poison_document"), "b.txt": ("done", None)}
    assert pipeline.runs == ["b.txt"]
