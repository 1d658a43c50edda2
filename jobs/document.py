"""The one state machine of a job's document, for every runner: at least once, maybe twice.

Both runners hand each document of a job to ``run_document``: Celery (``workers/``) one task per
document, and the in-process runner of ``ragqa serve`` (``jobs.runner``) one after another. The
function makes every hand-over safe to repeat:

- a document already final (done, failed, cancelled) is skipped, so a duplicate delivery
  writes nothing; a cancelled job's documents are skipped before any work;
- claiming the document (``queued -> parsing``) is atomic in the job store, so a cancel that
  lands first wins;
- the pipeline writes a document whole, then drops its stale chunks, with deterministic ids:
  a rerun after a crash converges on exactly one copy of each chunk;
- a document whose task keeps killing its worker is failed as poison instead of looping: after
  a first crash it runs alone in its process (``DeliveryPolicy.slot``), so a neighbour that
  shared the process is never blamed; after ``max_deliveries`` crashes, one of them alone, it fails;
- a transient failure (index or Redis unavailable) raises ``RetryLater`` while retries remain;
  a permanent one (parse error, unsupported format, too large, a collection of another schema)
  fails the document at once, with the error's code and message.

The index moves the collection's version with each write (``retrieval.versions``): the answer
cache sees the change without this module's help.

Example::

    outcome = run_document(task, store, pipeline, DeliveryPolicy(retries=0))
    outcome.state, outcome.closed_job    # ("done", True) for the last document of its job
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential

from core.errors import RagqaError, RetryLater, StoreUnavailable
from ingest.pipeline import IngestPipeline
from ingest.report import DocumentResult
from jobs.records import FINAL_DOC_STATES, DocState, Move
from jobs.spec import DocumentTask
from jobs.store import JobStore

log = structlog.get_logger(__name__)
T = TypeVar("T")


def _no_isolation(alone: bool) -> AbstractContextManager[object]:
    return nullcontext()


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """Where this delivery stands: ``retries`` so far (the queue's count), and the limits.

    ``slot(alone)`` is held while the document is processed; with ``alone`` it must keep every
    other document of this process from running meanwhile (a worker with threads), so that a
    crash can be blamed on this one document.
    """

    retries: int = 0
    max_retries: int = 5
    max_deliveries: int = 3
    store_retry_s: float = 60.0
    slot: Callable[[bool], AbstractContextManager[object]] = _no_isolation


@dataclass(frozen=True, slots=True)
class DocumentOutcome:
    state: DocState | None  # the document's final state; None when this delivery was a duplicate
    result: DocumentResult | None = None
    closed_job: bool = False


def run_document(task: DocumentTask, store: JobStore, pipeline: IngestPipeline,
                 policy: DeliveryPolicy) -> DocumentOutcome:
    """Ingests one document of a job, recording its progress; see the module docstring."""
    persist = _Persist(policy.store_retry_s)
    job_id, doc_id = task.job_id, task.file.doc_id

    current = persist(lambda: store.document(job_id, doc_id))
    if current is None or current.state in FINAL_DOC_STATES:
        log.info("job.document_skipped", job_id=job_id, doc_id=doc_id,
                 reason="no such job" if current is None else f"already {current.state}")
        _tidy(task, store, persist)
        return DocumentOutcome(None)

    deliveries = persist(lambda: store.count_delivery(job_id, doc_id))
    crashes = deliveries - 1 - policy.retries  # earlier hand-overs that neither finished nor asked for a retry
    solo_runs = persist(lambda: store.solo_runs(job_id, doc_id))
    if crashes >= policy.max_deliveries and solo_runs > 0:
        reason = (f"{task.file.name}: its task was handed to a worker {deliveries} times and never finished "
                  "(the worker died each time, once with this document alone in it); marked as poison, not retried")
        return _finish(task, store, persist, "failed", status="failed", error_code="poison_document", reason=reason)
    if persist(lambda: store.cancel_requested(job_id)):
        return _finish(task, store, persist, "cancelled", reason="the job was cancelled")
    # After a crash, run alone: if the worker dies again, this document did it, not a neighbour.
    alone = crashes > 0
    with policy.slot(alone):
        if alone:
            persist(lambda: store.count_solo_run(job_id, doc_id))
        return _ingest(task, store, pipeline, policy, persist)


def _ingest(task: DocumentTask, store: JobStore, pipeline: IngestPipeline, policy: DeliveryPolicy,
            persist: _Persist) -> DocumentOutcome:
    job_id, doc_id = task.job_id, task.file.doc_id
    if persist(lambda: store.set_document(job_id, doc_id, "parsing")) == "refused":
        _tidy(task, store, persist)
        return DocumentOutcome(None)  # cancelled between the check and the claim

    results: list[DocumentResult] = []
    try:
        # The job follows its own document; documents found inside it (an e-mail's attachments) are
        # ingested alongside and reported by the pipeline, not as steps of this one.
        pipeline.ingest([task.file.to_source()], task.collection, on_result=results.append,
                        on_stage=lambda d, stage: persist(lambda: store.set_document(job_id, doc_id, stage))
                        if d == doc_id else None)
    except StoreUnavailable:
        raise
    except RagqaError as exc:  # the collection itself (unreachable index, another schema), not this file
        results = [DocumentResult(doc_id, task.file.source or task.file.name, "failed", error_code=exc.code,
                                  reason=f"{task.file.name}: {exc.message}", transient=exc.transient)]
    result = next((r for r in results if r.doc_id == doc_id), results[0])
    if result.status == "failed":
        if result.transient and policy.retries < policy.max_retries:
            persist(lambda: store.set_document(job_id, doc_id, "queued", reason=f"will retry: {result.reason}"))
            raise RetryLater(result.reason or "a transient failure")
        return _finish(task, store, persist, "failed", result, status="failed", error_code=result.error_code,
                       reason=result.reason)
    return _finish(task, store, persist, "done", result, status=result.status, chunks=result.chunks, reason=None)


def fail_document(task: DocumentTask, store: JobStore, code: str, reason: str, store_retry_s: float) -> None:
    """Fails one document with a reason (a timeout, a bug); the rest of its job goes on."""
    persist = _Persist(store_retry_s)
    _finish(task, store, persist, "failed", status="failed", error_code=code, reason=reason)


def _finish(task: DocumentTask, store: JobStore, persist: _Persist, state: DocState,
            result: DocumentResult | None = None, **changes: Any) -> DocumentOutcome:
    move: Move = persist(lambda: store.set_document(task.job_id, task.file.doc_id, state, **changes))
    if move == "refused":
        return DocumentOutcome(None, result)
    closed = move == "closed"
    if closed:
        log.info("job.closed", job_id=task.job_id)
    _tidy(task, store, persist, job_over=closed)
    return DocumentOutcome(state, result, closed)


def _tidy(task: DocumentTask, store: JobStore, persist: _Persist, job_over: bool | None = None) -> None:
    """Removes the job's spool folder once the job is over (every document final)."""
    if not task.owns_file:
        return
    if job_over is None:  # None (expired): nobody will read its files again
        job_over = persist(lambda: store.state(task.job_id)) not in ("queued", "running")
    if job_over:
        shutil.rmtree(task.file.path.parent, ignore_errors=True)


class _Persist:
    """Retries job-store calls through a Redis outage, for up to ``seconds`` in all (one budget per delivery)."""

    def __init__(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        self._retrying = Retrying(
            retry=retry_if_exception_type(StoreUnavailable),
            wait=wait_exponential(multiplier=0.2, max=2.0),
            stop=lambda _: time.monotonic() >= deadline,
            before_sleep=_log_outage,
            reraise=True,
        )

    def __call__(self, call: Callable[[], T]) -> T:
        return self._retrying(call)


def _log_outage(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    delay = state.next_action.sleep if state.next_action else None
    log.warning("job.store_unavailable", error=str(error), retry_in_s=delay)
