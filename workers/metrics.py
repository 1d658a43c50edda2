"""Prometheus metrics of `ragqa worker`, served at ``/metrics`` on ``workers.metrics_port``.

What a worker counts: documents by final status (the names the API's in-process runner uses, so one
dashboard reads both), failures by error code, chunks written, and the duration of each ingestion
stage (``parse``, ``chunk``, ``embed``, ``write``; ``ingest.stages``) as histograms.

A prefork pool runs its tasks in forked children while the main process serves the scrape, so there
the metrics use prometheus-client's multiprocess mode: each process writes its values to memory-mapped
files in a folder of its own (``PROMETHEUS_MULTIPROC_DIR``, else a fresh temporary one, emptied at
start and removed at exit) and the scrape sums them; a child that is replaced leaves its counts behind,
so totals never go back. Threads and solo pools run in one process and use a plain registry, with the
process's own memory and CPU.

    served = serve_worker_metrics(settings.workers, pool="prefork")   # None when metrics_port is 0
    served.metrics.document_done("added", chunks=12)
    served.close()
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from threading import Thread
from typing import Any

from prometheus_client import (
    GC_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector

from core.worker_settings import WorkerPool, WorkerSettings
from ingest.stages import IngestStage

# Milliseconds to parse a small text, up to minutes to embed a long book.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
STATUSES = ("added", "updated", "unchanged", "failed", "cancelled", "duplicate")
STAGES: tuple[IngestStage, ...] = ("parse", "chunk", "embed", "write")
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


class WorkerMetrics:
    """The worker's counters and histograms; a ``StageObserver`` for the pipeline.

    Example::

        metrics = WorkerMetrics(CollectorRegistry())
        metrics.stage_done("embed", 0.8)
        metrics.document_done("failed", error_code="parse_error")
    """

    def __init__(self, registry: CollectorRegistry | None) -> None:
        # registry None: multiprocess mode, where the values live in files and the scrape's collector reads
        # them all (a metric registered as well would be exported twice).
        r = registry
        self.documents = Counter(
            "ragqa_ingest_documents_total", "Documents ingested by workers, by final status (added, updated, "
            "unchanged, failed, cancelled; duplicate: a second delivery of a finished document).", ["status"],
            registry=r,
        )  # fmt: skip
        self.failures = Counter("ragqa_ingest_failures_total", "Documents that failed, by error code.", ["code"],
                                registry=r)  # fmt: skip
        self.chunks = Counter("ragqa_ingest_chunks_written_total", "Chunks written to the index by workers.",
                              registry=r)  # fmt: skip
        self.stage_seconds = Histogram(
            "ragqa_ingest_stage_duration_seconds", "Duration of each ingestion stage (parse, chunk, embed, write); "
            "embed is per batch of chunks, the others per document.", ["stage"], buckets=DURATION_BUCKETS,
            registry=r,
        )  # fmt: skip
        for status in STATUSES:  # every series from the start, at 0: a rate needs it before the first event
            self.documents.labels(status=status)
        for stage in STAGES:
            self.stage_seconds.labels(stage=stage)

    def stage_done(self, stage: IngestStage, seconds: float) -> None:
        self.stage_seconds.labels(stage=stage).observe(seconds)

    def document_done(self, status: str, chunks: int = 0, error_code: str | None = None) -> None:
        self.documents.labels(status=status).inc()
        if status in ("added", "updated") and chunks:
            self.chunks.inc(chunks)
        if status == "failed":
            self.failures.labels(code=error_code or "unknown").inc()


@dataclass
class ServedMetrics:
    """The metrics, their HTTP server and (multiprocess mode) the folder of their files."""

    metrics: WorkerMetrics
    server: Any
    thread: Thread
    folder: Path | None = None
    owns_folder: bool = False

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self.folder is not None and self.owns_folder:
            shutil.rmtree(self.folder, ignore_errors=True)


def serve_worker_metrics(settings: WorkerSettings, pool: WorkerPool) -> ServedMetrics | None:
    """Starts the metrics server of a worker whose tasks run in ``pool``; None when ``metrics_port`` is 0.

    Call it in the main process before the pool forks: the children inherit the metrics."""
    if not settings.metrics_port:
        return None
    registry = CollectorRegistry()
    folder, owned = None, False
    if pool == "prefork":
        folder, owned = _multiprocess_folder()
        MultiProcessCollector(registry, path=str(folder))
        metrics = WorkerMetrics(None)
    else:
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        registry.register(GC_COLLECTOR)
        metrics = WorkerMetrics(registry)
    server, thread = start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=registry)
    return ServedMetrics(metrics, server, thread, folder, owned)


def _multiprocess_folder() -> tuple[Path, bool]:
    """The folder of this worker's metric files, emptied, with multiprocess mode switched on.

    prometheus-client picks its value class when it is first imported, from ``PROMETHEUS_MULTIPROC_DIR``;
    `ragqa worker` learns its pool later (the CLI has imported the client by then), so it sets the variable
    (the forked children inherit it) and picks the multiprocess class itself, before any of its metrics
    exists. A folder given in the variable is used (emptied first); otherwise a temporary one is made."""
    given = os.environ.get(MULTIPROC_DIR)
    folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="ragqa-worker-metrics-"))
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):  # a previous run's counts: prometheus-client asks for a wiped folder
        stale.unlink()
    os.environ[MULTIPROC_DIR] = str(folder)
    if not getattr(values.ValueClass, "_multiprocess", False):
        values.ValueClass = values.MultiProcessValue()
    return folder, not given
