"""Enqueueing: the ``JobRunner`` that sends a job's documents to the Celery workers.

The API (uploads, interactive queue) and ``ragqa ingest --queue`` (bulk queue) use it; it only
publishes, so importing it loads no models.

    >>> runner = CeleryJobRunner(app, queue="ragqa.interactive")  # doctest: +SKIP
    >>> runner.submit(JobSpec(job_id, "docs", files))  # doctest: +SKIP
"""

from __future__ import annotations

import structlog
from celery import Celery
from kombu.exceptions import OperationalError

from ingest.job_document import DocumentTask
from ingest.job_runner import JobSpec
from ingest.jobs import StoreUnavailable
from workers.app import INGEST_DOCUMENT, release_connections

log = structlog.get_logger(__name__)


class CeleryJobRunner:
    """Publishes one task per document of a job to ``queue``."""

    def __init__(self, app: Celery, queue: str) -> None:
        self.app = app
        self.queue = queue

    def submit(self, spec: JobSpec) -> None:
        try:
            with self.app.producer_or_acquire() as producer:
                for file in spec.files:
                    task = DocumentTask(spec.job_id, spec.collection, file, spec.owns_files)
                    self.app.send_task(INGEST_DOCUMENT, args=[task.to_dict()], queue=self.queue, producer=producer)
        except OperationalError as exc:
            raise StoreUnavailable(f"the task broker is unreachable: {exc}") from exc
        log.info("job.enqueued", job_id=spec.job_id, documents=len(spec.files), queue=self.queue)

    def close(self) -> None:
        """Lets go of the broker (the workers own the jobs: nothing else to stop)."""
        release_connections(self.app)
