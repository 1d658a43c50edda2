"""What one worker process uses: the parts (models loaded once per process), the job store and
the heartbeat that keeps its leases.

Built in the parent before a prefork fork, but loaded only in the process that runs tasks:
``load()`` runs in each prefork child (``worker_process_init``), or once in the main process
for the threads and solo pools, so models load once per worker process and never twice in one.
The job store loads apart from the pipeline: a worker whose pipeline cannot load (the store is
locked, the model is missing) still records that reason on each document it is handed, instead
of leaving them queued while the pool restarts its processes in a loop.

Example::

    context = WorkerContext(Components(settings), queues=["ragqa.interactive"])
    context.load()
    context.pipeline.ingest(sources, "docs")
"""

from __future__ import annotations

import os
import socket
import threading

import structlog
from celery import Celery

from bootstrap.components import Components
from core.errors import RagqaError
from core.settings import Settings
from ingest.pipeline import IngestPipeline
from jobs.leases import DocumentLeases
from jobs.store import JobStore
from workers.heartbeat import WorkerHeartbeat
from workers.metrics import WorkerMetrics

log = structlog.get_logger(__name__)


class WorkerContext:
    def __init__(self, parts: Components, queues: list[str] | None = None, in_process_pool: bool = False,
                 metrics: WorkerMetrics | None = None) -> None:
        self.parts = parts
        self.metrics = metrics  # documents and chunks counted by the tasks (the pipeline times its stages)
        self.queues = queues or parts.settings.workers.queues
        self.in_process_pool = in_process_pool  # threads or solo: messages arrive where their tasks run
        self._store: JobStore | None = None
        self._pipeline: IngestPipeline | None = None
        self._pipeline_error: RagqaError | None = None
        self._heartbeat: tuple[int, WorkerHeartbeat] | None = None
        self._lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        return self.parts.settings

    def load(self) -> None:
        """Opens Redis, then loads the embedding model and opens the index (thread-safe; once).

        A pipeline that cannot load is remembered, not raised: ``pipeline`` raises it to each task.
        """
        _ = self.store
        with self._lock:
            if self._pipeline is not None or self._pipeline_error is not None:
                return
            try:
                self._pipeline = self.parts.pipeline  # loads the embedder and opens the index
                self._pipeline.warm()
            except RagqaError as exc:
                self._pipeline_error = exc
                log.error("worker.cannot_load", code=exc.code, error=exc.message)
                return
            log.info("worker.loaded", index=type(self.parts.index).__name__, model=self.parts.embedder.model_name)

    @property
    def store(self) -> JobStore:
        with self._lock:
            if self._store is None:
                self._store = self.parts.job_store()
            return self._store

    @property
    def pipeline(self) -> IngestPipeline:
        """The loaded pipeline; raises why it could not load (a transient reason is tried again)."""
        self.load()
        with self._lock:
            if self._pipeline_error is not None and self._pipeline_error.transient:
                error, self._pipeline_error = self._pipeline_error, None  # the next task tries again
                raise error
            if self._pipeline_error is not None:
                raise self._pipeline_error
            assert self._pipeline is not None
            return self._pipeline

    def heartbeat(self, app: Celery) -> WorkerHeartbeat:
        """This process's heartbeat, started on first use (a forked child starts its own)."""
        with self._lock:
            if self._heartbeat is not None and self._heartbeat[0] == os.getpid():
                return self._heartbeat[1]
        w = self.settings.workers
        leases = DocumentLeases(self.store, f"{socket.gethostname()}:{os.getpid()}", w.document_lease_s)
        beat = WorkerHeartbeat(leases, app, self.queues, w.document_lease_s).start()
        with self._lock:
            self._heartbeat = (os.getpid(), beat)
        return beat

    def close(self) -> None:
        with self._lock:
            beat = self._heartbeat[1] if self._heartbeat and self._heartbeat[0] == os.getpid() else None
        if beat is not None:
            beat.stop()
        self.parts.close()
