"""What one worker process uses: the parts (models loaded once per process) and the job store.

Built in the parent before a prefork fork, but loaded only in the process that runs tasks:
``load()`` runs in each prefork child (``worker_process_init``), or once in the main process
for the threads and solo pools, so models load once per worker process and never twice in
one.

Example::

    context = WorkerContext(Components(settings))
    context.load()
    context.pipeline.ingest(sources, "docs")
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import structlog

from bootstrap.components import Components
from core.settings import Settings
from ingest.pipeline import IngestPipeline
from jobs.store import JobStore

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class _Loaded:
    pipeline: IngestPipeline
    store: JobStore


class WorkerContext:
    def __init__(self, parts: Components) -> None:
        self.parts = parts
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        return self.parts.settings

    def load(self) -> None:
        """Loads the embedding model and opens the index and Redis (thread-safe; once)."""
        with self._lock:
            if self._loaded is not None:
                return
            pipeline = self.parts.pipeline  # loads the embedder and opens the index
            self._loaded = _Loaded(pipeline, self.parts.job_store())
            log.info("worker.loaded", index=type(self.parts.index).__name__, model=self.parts.embedder.model_name)

    def _get(self) -> _Loaded:
        if self._loaded is None:
            self.load()
        assert self._loaded is not None
        return self._loaded

    @property
    def pipeline(self) -> IngestPipeline:
        return self._get().pipeline

    @property
    def store(self) -> JobStore:
        return self._get().store

    def close(self) -> None:
        self.parts.close()
