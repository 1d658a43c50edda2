"""The in-process ``JobRunner``: ingestion jobs run one at a time in a worker thread of the API.

The job records live in ``ingest.jobs.JobStore`` (Redis) and the work is
``ingest.job_runner.run_ingest_job``; this runner only decides where it runs. A Celery
runner (workers/) can replace it without touching the routes: same ``submit(spec)``, same
store. One thread, because the embedded store admits one writer and two jobs would only
compete for the same two cores.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import structlog

from api.metrics import Metrics
from api.uploads import UploadSpool
from core.errors import RagqaError
from core.protocols import Embedder, SparseEncoder
from core.settings import Settings
from ingest.job_runner import JobSpec, run_ingest_job
from ingest.jobs import JobStore, StoreUnavailable
from ingest.report import DocumentResult
from retrieval.index import VectorIndex

log = structlog.get_logger(__name__)


class InProcessJobRunner:
    """Runs submitted jobs in order on one background thread; removes each job's spool folder after.

    Example::

        runner = InProcessJobRunner(store, metrics, spool, embedder=..., sparse=..., index=..., settings=settings)
        runner.submit(JobSpec(job_id, "docs", files))
        runner.close()   # on shutdown: queued jobs are marked failed, the running one is asked to stop
    """

    def __init__(self, store: JobStore, metrics: Metrics, spool: UploadSpool, *,
                 embedder: Embedder, sparse: SparseEncoder, index: VectorIndex, settings: Settings) -> None:
        self.store = store
        self.metrics = metrics
        self.spool = spool
        self._parts = {"embedder": embedder, "sparse": sparse, "index": index, "settings": settings}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-job")
        self._pending: dict[str, tuple[Future[None], JobSpec]] = {}
        self._running: str | None = None
        self._lock = threading.Lock()

    def submit(self, spec: JobSpec) -> None:
        with self._lock:
            self._pending[spec.job_id] = (self._executor.submit(self._run, spec), spec)

    def _run(self, spec: JobSpec) -> None:
        with self._lock:
            self._running = spec.job_id
        state = "failed"
        try:
            report = run_ingest_job(spec, self.store, on_result=self._count, **self._parts)  # type: ignore[arg-type]
            if report is not None:
                state = "done"
                with contextlib.suppress(RagqaError):
                    state = self.store.get(spec.job_id).state
        except Exception:  # a bug must not kill the runner thread silently: record it and go on
            log.exception("job.crashed", job_id=spec.job_id)
            with contextlib.suppress(StoreUnavailable):
                self.store.set_state(spec.job_id, "failed", RagqaError("the ingestion job crashed"))
        finally:
            self.metrics.jobs.labels(state=state).inc()
            if spec.files:
                self.spool.remove(spec.files[0].path.parent)
            with self._lock:
                self._running = None
                self._pending.pop(spec.job_id, None)

    def _count(self, result: DocumentResult) -> None:
        self.metrics.job_documents.labels(status=result.status).inc()

    def close(self) -> None:
        with self._lock:
            queued = [spec for future, spec in self._pending.values() if future.cancel()]
            running = self._running
        for spec in queued:
            if spec.files:
                self.spool.remove(spec.files[0].path.parent)
            with contextlib.suppress(StoreUnavailable):
                self.store.set_state(spec.job_id, "failed", RagqaError("the server stopped before the job started"))
        if running is not None:
            with contextlib.suppress(RagqaError):
                self.store.request_cancel(running)
        self._executor.shutdown(wait=True)
