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
from celery.signals import task_received, worker_process_init, worker_process_shutdown

from bootstrap.tracing import flush_tracing
from core.errors import RagqaError, RetryLater, StoreUnavailable
from core.tracing import SpanKind, context_from, span
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
        # The trace of the upload that queued it, from the message's headers (``workers.runner``).
        with span(INGEST_DOCUMENT, {"messaging.system": "celery", "ragqa.job_id": task.job_id,
                                    "ragqa.doc_id": task.file.doc_id, "celery.retries": self.request.retries or 0},
                  context=context_from(vars(self.request)), kind=SpanKind.CONSUMER) as traced:
            state = deliver(self, task)
            traced.set_attribute("ragqa.outcome", state or "none")
        return state

    def deliver(self: Task, task: DocumentTask) -> str | None:
        retries = self.request.retries or 0
        policy = DeliveryPolicy(retries, w.max_retries, w.max_deliveries, w.store_retry_s, slots.slot)
        try:
            pipeline = context.pipeline
        except RagqaError as exc:  # this worker cannot ingest at all: say so on the document, or retry
            if exc.transient and retries < w.max_retries:
                raise RetryLater(f"this worker cannot ingest yet: {exc.message}") from exc
            return failed(task, exc.code, f"{task.file.name}: this worker cannot ingest documents: {exc.message}")
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
            return failed(task, "task_timeout", f"{task.file.name}: not ingested within {w.task_time_limit_s} s")
        except Exception as exc:  # a bug must fail this document with a reason, not leave it 'parsing'
            log.exception("worker.task_crashed", job_id=task.job_id, doc_id=task.file.doc_id)
            return failed(task, "internal_error", f"{task.file.name}: {type(exc).__name__}: {exc}")
        if context.metrics is not None:
            result = outcome.result
            context.metrics.document_done(result.status if result else outcome.state or "duplicate",
                                          result.chunks if result else 0, result.error_code if result else None)
        return outcome.state

    def failed(task: DocumentTask, code: str, reason: str) -> str:
        fail_document(task, context.store, code, reason, w.store_retry_s)
        if context.metrics is not None:
            context.metrics.document_done("failed", error_code=code)
        return "failed"

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

    @worker_process_shutdown.connect(weak=False)
    def flush_spans(**_: Any) -> None:  # a prefork child leaves with os._exit: export its batched spans first
        flush_tracing()

