"""The ingestion stages as spans and timings: ``parse``, ``chunk``, ``embed`` and ``write``.

Each stage of the pipeline opens an ``ingest.<stage>`` span (a no-op while tracing is off) and, when
the pipeline was given a ``StageObserver`` (a worker's Prometheus metrics), reports its duration, failed
or not. The observer is a Protocol so that this layer names what it needs rather than import a worker.

    with timed_stage("parse", observer, {"ragqa.doc_id": "a.txt"}):
        parsed = parse_bytes(data, "a.txt", limits)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal, Protocol

from core.tracing import Attributes, span

IngestStage = Literal["parse", "chunk", "embed", "write"]


class StageObserver(Protocol):
    """Hears how long each stage took (``workers.metrics.WorkerMetrics`` observes a histogram).

    Example::

        observer.stage_done("embed", 0.42)
    """

    def stage_done(self, stage: IngestStage, seconds: float) -> None: ...


@contextmanager
def timed_stage(stage: IngestStage, observer: StageObserver | None, attributes: Attributes | None = None
                ) -> Iterator[None]:
    started = time.perf_counter()
    try:
        with span(f"ingest.{stage}", attributes):
            yield
    finally:
        if observer is not None:
            observer.stage_done(stage, time.perf_counter() - started)
