"""The worker's tasks: thin wrappers that call ``jobs.document.run_document`` and map its outcomes
onto Celery's retry and acknowledgement machinery.

Example::

    register_tasks(app, context)
"""

from __future__ import annotations

from typing import Any

import structlog
from celery import Celery, Task
from celery.exceptions import Reject, SoftTimeLimitExceeded
from celery.signals import task_received, worker_process_init

from core.errors import RagqaError, RetryLater, StoreUnavailable
from jobs.document import DeliveryPolicy, fail_document, run_document
from jobs.spec import DocumentTask
from workers.app import INGEST_DOCUMENT
from workers.context import WorkerContext
from workers.isolation import ProcessSlots

log = structlog.get_logger(__name__)


def register_tasks(app: Celery, context: WorkerContext) -> None:
    """Adds the ingestion task to ``app``; its parts come from ``context``."""
    w = context.settings.workers
    slots = ProcessSlots()  # one per process: the documents that share it if the process dies

    @app.task(name=INGEST_DOCUMENT, bind=True, autoretry_for=(RetryLater,), retry_backoff=w.retry_backoff_s,
              retry_backoff_max=w.retry_backoff_max_s, retry_jitter=True, max_retries=w.max_retries)
    def ingest_document(self: Task, payload: dict[str, Any]) -> str | None:
        task = DocumentTask.from_dict(payload)
        retries = self.request.retries or 0
        policy = DeliveryPolicy(retries, w.max_retries, w.max_deliveries, w.store_retry_s, slots.slot)
        try:
            pipeline = context.pipeline
        except RagqaError as exc:  # this worker cannot ingest at all: say so on the document, or retry
            if exc.transient and retries < w.max_retries:
                raise RetryLater(f"this worker cannot ingest yet: {exc.message}") from exc
            fail_document(task, context.store, exc.code,
                          f"{task.file.name}: this worker cannot ingest documents: {exc.message}", w.store_retry_s)
            return "failed"
        try:
            with context.heartbeat(app).running(task) as held:
                if not held:  # a second delivery of a document another live worker runs: that one ends it
                    log.info("worker.duplicate_skipped", job_id=task.job_id, doc_id=task.file.doc_id)
                    return None
                outcome = run_document(task, context.store, pipeline, policy)
        except RetryLater:
            raise
        except StoreUnavailable as exc:
            # Redis stayed down past the grace period: hand the message back; the document is idempotent.
            log.error("worker.store_unavailable", job_id=task.job_id, doc_id=task.file.doc_id, error=exc.message)
            raise Reject(exc.message, requeue=True) from exc
        except SoftTimeLimitExceeded:
            fail_document(task, context.store, "task_timeout",
                          f"{task.file.name}: not ingested within {w.task_time_limit_s} s", w.store_retry_s)
            return "failed"
        except Exception as exc:  # a bug must fail this document with a reason, not leave it 'parsing'
            log.exception("worker.task_crashed", job_id=task.job_id, doc_id=task.file.doc_id)
            fail_document(task, context.store, "internal_error",
                          f"{task.file.name}: {type(exc).__name__}: {exc}", w.store_retry_s)
            return "failed"
        return outcome.state

    @task_received.connect(weak=False)
    def hold_on_receipt(request: Any = None, **_: Any) -> None:
        if not context.in_process_pool or request is None or request.name != INGEST_DOCUMENT:
            return  # a prefork child holds its document when it starts it
        try:
            task = DocumentTask.from_dict(request.args[0])
        except (IndexError, KeyError, TypeError, ValueError):
            return  # a malformed message fails in the task itself, with its reason
        context.heartbeat(app).received(task)

    @worker_process_init.connect(weak=False)
    def load_parts(**_: Any) -> None:  # each prefork child loads its own models, once
        context.load()
        context.heartbeat(app)  # at once: it also hands on what a dead worker left, before any task arrives

