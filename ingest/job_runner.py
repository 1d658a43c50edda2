"""Running one ingestion job and recording its progress in the ``JobStore``.

``run_ingest_job`` is the whole job: whoever executes it (the API's in-process runner thread
today, a Celery task tomorrow) calls it with the job's spec and the shared parts. A
``JobRunner`` only decides *where* it runs::

    class CeleryJobRunner:                       # workers/ (a later issue)
        def submit(self, spec: JobSpec) -> None:
            ingest_job_task.delay(spec.to_dict())  # the task calls run_ingest_job(JobSpec.from_dict(...))

The index moves its collection's version on every write (``retrieval.versions``), so the answer
cache never serves an answer computed before the change; nothing here has to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import structlog

from core.errors import RagqaError
from core.protocols import Embedder, SparseEncoder
from core.settings import Settings
from ingest.jobs import FINAL_DOC_STATES, DocState, JobStore, StoreUnavailable
from ingest.pipeline import IngestPipeline
from ingest.report import DocumentResult, IngestReport
from ingest.sources import SourceDocument
from retrieval.index import VectorIndex

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class JobFile:
    """A file waiting in the job's spool folder; ``doc_id`` is what it will be indexed as."""

    doc_id: str
    name: str
    path: Path
    tags: dict[str, str] = field(default_factory=dict)
    source: str | None = None  # what `ragqa delete --source` matches; default: the name


@dataclass(frozen=True, slots=True)
class JobSpec:
    """Everything a runner needs to run a job; JSON-friendly for a task queue."""

    job_id: str
    collection: str
    files: tuple[JobFile, ...]
    owns_files: bool = True  # uploads in a spool folder, removed once ingested; not a user's own paths

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "collection": self.collection, "owns_files": self.owns_files,
                "files": [file_to_dict(f) for f in self.files]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobSpec:
        files = tuple(file_from_dict(f) for f in data["files"])
        return cls(data["job_id"], data["collection"], files, bool(data.get("owns_files", True)))


def file_to_dict(file: JobFile) -> dict[str, Any]:
    return {**asdict(file), "path": str(file.path)}


def source_of(file: JobFile) -> SourceDocument:
    return SourceDocument(doc_id=file.doc_id, name=file.name, source=file.source or file.name, path=file.path,
                          tags=dict(file.tags))


def file_from_dict(data: dict[str, Any]) -> JobFile:
    return JobFile(data["doc_id"], data["name"], Path(data["path"]), dict(data.get("tags") or {}), data.get("source"))


class JobRunner(Protocol):
    """Executes submitted jobs somewhere (a thread, a Celery worker) via ``run_ingest_job``."""

    def submit(self, spec: JobSpec) -> None: ...

    def close(self) -> None: ...


class _Tracker:
    """Document states as the pipeline reaches them; store failures never stop ingestion."""

    def __init__(self, store: JobStore, job_id: str) -> None:
        self.store = store
        self.job_id = job_id
        self.states: dict[str, DocState] = {}

    def move(self, doc_id: str, state: DocState, **changes: Any) -> bool:
        """False when the document was already final (e.g. cancelled meanwhile): leave it alone."""
        if self.states.get(doc_id) in FINAL_DOC_STATES:
            return False
        try:
            moved = self.store.set_document(self.job_id, doc_id, state, **changes)
        except StoreUnavailable as exc:
            # The index is the truth; a stale progress record is the lesser harm.
            log.warning("job.progress_not_recorded", job_id=self.job_id, doc_id=doc_id, error=exc.message)
            moved = "moved"
        if moved == "refused":
            self.states[doc_id] = "cancelled"
            return False
        self.states[doc_id] = state
        return True


def run_ingest_job(
    spec: JobSpec,
    store: JobStore,
    *,
    embedder: Embedder,
    sparse: SparseEncoder,
    index: VectorIndex,
    settings: Settings,
    on_result: Callable[[DocumentResult], None] | None = None,
) -> IngestReport | None:
    """Ingests the job's files into its collection, recording progress; None if it failed as a whole."""
    tracker = _Tracker(store, spec.job_id)
    cancelled = False

    def sources() -> Iterator[SourceDocument]:
        nonlocal cancelled
        for position, file in enumerate(spec.files):
            if _cancel_requested(store, spec.job_id):
                cancelled = True
                for rest in spec.files[position:]:
                    tracker.move(rest.doc_id, "cancelled", reason="the job was cancelled")
                break
            if not tracker.move(file.doc_id, "parsing"):
                continue  # cancelled before it started
            yield source_of(file)

    def record(result: DocumentResult) -> None:
        if result.status == "failed":
            tracker.move(result.doc_id, "failed", status="failed", error_code=result.error_code, reason=result.reason)
        else:
            tracker.move(result.doc_id, "done", status=result.status, chunks=result.chunks)
        if on_result is not None:
            on_result(result)

    pipeline = IngestPipeline(embedder, sparse, index, settings)
    try:
        store.set_state(spec.job_id, "running")
        report = pipeline.ingest(sources(), spec.collection, on_result=record,
                                 on_stage=lambda doc_id, stage: tracker.move(doc_id, stage))
    except RagqaError as exc:
        log.error("job.failed", job_id=spec.job_id, code=exc.code, error=exc.message)
        for file in spec.files:
            tracker.move(file.doc_id, "failed", status="failed", error_code=exc.code, reason=exc.message)
        _final_state(store, spec.job_id, "failed", exc)
        return None
    _final_state(store, spec.job_id, "cancelled" if cancelled else "done")
    log.info("job.done", job_id=spec.job_id, cancelled=cancelled, **report.counts())
    return report


def _cancel_requested(store: JobStore, job_id: str) -> bool:
    try:
        return store.cancel_requested(job_id)
    except StoreUnavailable:
        return False  # cannot tell: keep going rather than lose the upload


def _final_state(store: JobStore, job_id: str, state: Any, error: RagqaError | None = None) -> None:
    try:
        store.set_state(job_id, state, error)
    except StoreUnavailable as exc:
        log.warning("job.state_not_recorded", job_id=job_id, state=state, error=exc.message)
