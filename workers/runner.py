"""Enqueueing: the ``JobRunner`` that records a job and sends its documents to the Celery workers.

The API (uploads, interactive queue) and ``ragqa ingest --queue`` (bulk queue) use it; it only
publishes, so importing it loads no models.

Example::

    runner = CeleryJobRunner(app, "ragqa.interactive", store)
    runner.submit(JobSpec(new_job_id(), "docs", files))
"""

from __future__ import annotations

import contextlib

import structlog
from celery import Celery
from kombu.exceptions import OperationalError

from core.errors import RagqaError, StoreUnavailable
from core.tracing import SpanKind, span, trace_headers
from jobs.spec import JobSpec
from jobs.store import JobStore
from workers.app import INGEST_DOCUMENT, release_connections

log = structlog.get_logger(__name__)


class CeleryJobRunner:
    """Records the job, then publishes one task per document to ``queue``."""

    def __init__(self, app: Celery, queue: str, store: JobStore) -> None:
        self.app = app
        self.queue = queue
        self.store = store

    def submit(self, spec: JobSpec) -> None:
        self.store.create(spec, runner="celery", queue=self.queue)
        try:
            with self.app.producer_or_acquire() as producer:
                for task in spec.tasks():
                    # Each message carries its publish span's W3C context: the worker's span continues the trace.
                    with span(f"{INGEST_DOCUMENT} publish", {
                            "messaging.system": "celery", "messaging.destination.name": self.queue,
                            "ragqa.job_id": spec.job_id, "ragqa.doc_id": task.file.doc_id}, kind=SpanKind.PRODUCER):
                        self.app.send_task(INGEST_DOCUMENT, args=[task.to_dict()], queue=self.queue, producer=producer,
                                           headers=trace_headers())
        except OperationalError as exc:
            error = StoreUnavailable(f"the task broker is unreachable: {exc}")
            with contextlib.suppress(RagqaError):  # a job no worker will ever see must not stay "queued"
                self.store.set_state(spec.job_id, "failed", error)
            raise error from exc
        log.info("job.enqueued", job_id=spec.job_id, documents=len(spec.files), queue=self.queue)

    def close(self) -> None:
        """Lets go of the broker (the workers own the jobs: nothing else to stop)."""
        release_connections(self.app)
