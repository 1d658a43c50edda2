"""The in-process ``JobRunner`` of ``ragqa serve``: jobs run one at a time on a background thread.

Each document goes through ``jobs.document.run_document``, the state machine Celery workers use,
so both runners close jobs, retry transient failures, skip cancelled documents and fail poison
the same way. One thread, because the embedded store admits one writer and two jobs would only
compete for the same two cores.

A runner holds a lease in the job store while it lives (``workers.inprocess_lease_s``, renewed
three times per lease). A job it did not finish (the server crashed, or stopped mid-job) keeps
its spec in the store; a live runner claims it (``recover``: at start, then at each renewal) and
runs its documents that are not yet final. A document that was being ingested
when the process died counts as a crash: after ``max_deliveries`` of them it fails as poison.

Example::

    runner = InProcessJobRunner(store, pipeline, settings.workers)
    runner.recover()                     # at start: jobs a previous server left open
    runner.submit(JobSpec(new_job_id(), "docs", files))
    runner.close()                       # the current document finishes; the rest resume next start
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import structlog

from core.errors import RagqaError, RetryLater, StoreUnavailable
from core.worker_settings import WorkerSettings
from ingest.pipeline import IngestPipeline
from jobs.document import DeliveryPolicy, DocumentOutcome, fail_document, run_document
from jobs.spec import DocumentTask, JobSpec
from jobs.store import JobStore

log = structlog.get_logger(__name__)


class InProcessJobRunner:
    """Runs submitted jobs in order on one background thread, recording them for recovery."""

    def __init__(self, store: JobStore, pipeline: IngestPipeline, limits: WorkerSettings, *,
                 on_document: Callable[[DocumentOutcome], None] | None = None,
                 on_job: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.pipeline = pipeline
        self.limits = limits
        self.lease_s = limits.inprocess_lease_s
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._on_document = on_document
        self._on_job = on_job
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-job")
        self._stopping = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, name="ingest-lease", daemon=True)
        self._renew()
        self._heartbeat.start()

    def submit(self, spec: JobSpec) -> None:
        self.store.create(spec, runner="inprocess", owner=self.owner)
        self._executor.submit(self._run, spec)

    def recover(self) -> list[str]:
        """Claims the open jobs whose runner is gone and queues them; their ids."""
        recovered: list[str] = []
        if self._stopping.is_set():
            return recovered
        for job_id in self.store.orphaned():
            spec = self.store.claim(job_id, self.owner)
            if spec is None:
                continue
            try:
                self._executor.submit(self._run, spec)
            except RuntimeError:  # closing meanwhile: the job is ours but waits for the next start
                self._stopping.set()
                break
            log.info("job.recovered", job_id=job_id, documents=len(spec.files))
            recovered.append(job_id)
        return recovered

    def _run(self, spec: JobSpec) -> None:
        for task in spec.tasks():
            if self._stopping.is_set():
                log.info("job.paused", job_id=spec.job_id, reason="the server is stopping; it resumes at next start")
                return
            self._run_document(task)
        state = "unknown"
        with contextlib.suppress(StoreUnavailable):
            state = self.store.state(spec.job_id) or "expired"
        if self._on_job is not None:
            self._on_job(state)

    def _run_document(self, task: DocumentTask) -> None:
        """One document, retried in place after transient failures, as Celery would redeliver it."""
        limits = self.limits
        retries = 0
        while True:
            policy = DeliveryPolicy(retries, limits.max_retries, limits.max_deliveries, limits.store_retry_s)
            try:
                outcome = run_document(task, self.store, self.pipeline, policy)
            except RetryLater as exc:
                retries += 1
                delay = random.uniform(0, min(limits.retry_backoff_max_s, limits.retry_backoff_s * 2**retries))
                log.info("job.retry", job_id=task.job_id, doc_id=task.file.doc_id, retry=retries,
                         delay_s=round(delay, 2), error=exc.message)
                if self._stopping.wait(delay):
                    return  # left queued: the next start resumes it
                continue
            except StoreUnavailable as exc:
                # Redis stayed down past the grace period: the record stays open, and the next start resumes it.
                log.error("job.store_unavailable", job_id=task.job_id, doc_id=task.file.doc_id, error=exc.message)
                return
            except Exception as exc:  # a bug must fail this document with a reason, not kill the thread
                log.exception("job.document_crashed", job_id=task.job_id, doc_id=task.file.doc_id)
                try:
                    fail_document(task, self.store, "internal_error", f"{task.file.name}: {type(exc).__name__}: {exc}",
                                  limits.store_retry_s)
                except RagqaError:
                    return
                outcome = DocumentOutcome("failed")
            if self._on_document is not None:
                self._on_document(outcome)
            return

    def _renew(self) -> None:
        try:
            self.store.renew_lease(self.owner, self.lease_s)
        except StoreUnavailable as exc:
            log.warning("job.lease_not_renewed", owner=self.owner, error=exc.message)

    def _beat(self) -> None:
        """Renews the lease, and takes over jobs whose runner died since (its lease lapsed meanwhile)."""
        while not self._stopping.wait(self.lease_s / 3):
            self._renew()
            try:
                self.recover()
            except StoreUnavailable as exc:
                log.warning("job.recovery_skipped", error=exc.message)

    def close(self) -> None:
        """Stops after the document in progress; jobs not finished resume when a runner next starts."""
        self._stopping.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
        try:
            self.store.release_lease(self.owner)  # the next start need not wait for the lease to lapse
        except StoreUnavailable as exc:
            log.warning("job.lease_not_released", owner=self.owner, error=exc.message)
