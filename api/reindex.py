"""Re-indexing a collection inside the server (``POST /collections/{name}/reindex``): the way to
re-index an embedded store while ``ragqa serve`` holds it and answers.

An embedded store admits one process, so ``ingest.reindex`` must run in the one that has it open;
here it runs on a background thread of the server, one re-index at a time (they would only compete
for the same cores and the one writer), while the API answers from the old collection until the
switch. Each request becomes a task whose progress ``GET /collections/{name}/reindex/{task_id}``
shows; ``ragqa collection reindex`` falls back to these routes when a server holds the store.

Tasks live in this process, as the re-index itself does: a server that stops abandons the one
running (the new collection is dropped, the old one keeps answering) and forgets them all. The last
``KEPT_TASKS`` are kept; at most ``MAX_OPEN`` may be queued or running.

The re-index builds its own pipeline (its own parsing process) with the server's embedder and the
chunking the request asks for, so a new chunk size needs no restart. A new embedder does: the server
embeds questions with the one it loaded (``expect_embedder`` refuses a request that names another).

Example::

    service = ReindexService(index, embedder, sparse, settings)
    task = service.start("docs", ReindexOptions(chunking={"chunk_size": 160}))
    service.get("docs", task["task_id"])["state"]     # "queued", "running", "done" or "failed"
    service.close()
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog
from pydantic import ValidationError

from core.errors import IngestError, InvalidRequest, NotFound, RagqaError
from core.protocols import Embedder, SparseEncoder
from core.settings import ChunkingSettings, Settings
from ingest.pipeline import IngestPipeline
from ingest.reindex import ReindexReport, reindex_collection
from ingest.report import DocumentResult
from retrieval.index import VectorIndex

log = structlog.get_logger(__name__)

KEPT_TASKS = 50  # finished tasks are forgotten oldest first beyond this
MAX_OPEN = 4  # queued or running at once: each holds a request's options until it runs
TaskState = Literal["queued", "running", "done", "failed"]


@dataclass(frozen=True, slots=True)
class ReindexOptions:
    """What a request asks: chunking over the server's (keys of ``ChunkingSettings``), the grace, the
    source of the text, and the embedder the caller expects the server to have (backend, model path)."""

    chunking: dict[str, int] = field(default_factory=dict)
    grace_s: float = 5.0
    read_files: bool = True
    expect_embedder: tuple[str, str | None] | None = None


@dataclass(slots=True)
class ReindexTask:
    """One re-index as the status route shows it; written by the re-index thread, read by requests."""

    task_id: str
    collection: str
    chunking: ChunkingSettings
    options: ReindexOptions
    requested_by: str
    state: TaskState = "queued"
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    switched_at: float | None = None
    finished_at: float | None = None
    documents_total: int | None = None
    documents_done: int = 0
    documents_failed: int = 0
    chunks_written: int = 0
    report: dict[str, Any] | None = None
    error: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "collection": self.collection, "state": self.state,
                "status_url": f"/collections/{self.collection}/reindex/{self.task_id}",
                "chunk_size": self.chunking.chunk_size, "chunk_overlap": self.chunking.chunk_overlap,
                "grace_s": self.options.grace_s, "read_files": self.options.read_files,
                "requested_by": self.requested_by, "created_at": self.created_at, "started_at": self.started_at,
                "switched_at": self.switched_at, "finished_at": self.finished_at,
                "documents_total": self.documents_total, "documents_done": self.documents_done,
                "documents_failed": self.documents_failed, "chunks_written": self.chunks_written,
                "report": self.report, "error": self.error}


class ReindexService:
    """Re-index tasks of this server: started by ``start``, shown by ``get``, run one at a time."""

    def __init__(self, index: VectorIndex, embedder: Embedder, sparse: SparseEncoder, settings: Settings) -> None:
        self.index = index
        self.embedder = embedder
        self.sparse = sparse
        self.settings = settings
        self._tasks: OrderedDict[str, ReindexTask] = OrderedDict()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reindex")

    def start(self, collection: str, options: ReindexOptions, requested_by: str = "") -> dict[str, Any]:
        """Queues a re-index of ``collection``; its task. Blocking (reads the index): call it off the loop."""
        self._check_embedder(options.expect_embedder)
        chunking = self._chunking(options.chunking)
        if collection in self.index.aliases().values():
            raise InvalidRequest(f"{collection!r} is a physical collection behind a name: re-index the name")
        if not self.index.collection_exists(collection):
            raise NotFound(f"collection {collection!r} does not exist")
        with self._lock:
            open_tasks = [t for t in self._tasks.values() if t.state in ("queued", "running")]
            running = next((t for t in open_tasks if t.collection == collection), None)
            if running is not None:
                raise InvalidRequest(f"a re-index of {collection!r} is already {running.state} (task "
                                     f"{running.task_id}): follow it at {running.to_dict()['status_url']}")
            if len(open_tasks) >= MAX_OPEN:
                raise InvalidRequest(f"{len(open_tasks)} re-indexes are queued or running already; "
                                     "start this one when they are done")
            task = ReindexTask(uuid.uuid4().hex, collection, chunking, options, requested_by)
            self._tasks[task.task_id] = task
            self._forget_old()
            snapshot = task.to_dict()
        self._executor.submit(self._run, task)
        log.info("reindex.queued", task_id=task.task_id, collection=collection, chunk_size=chunking.chunk_size,
                 chunk_overlap=chunking.chunk_overlap, requested_by=requested_by)
        return snapshot

    def get(self, collection: str, task_id: str) -> dict[str, Any]:
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None or task.collection != collection:
                raise NotFound(f"no re-index task {task_id!r} of {collection!r} on this server (a server forgets "
                               f"its tasks when it stops, and keeps the last {KEPT_TASKS})")
            return task.to_dict()

    def close(self) -> None:
        """Abandons a running re-index at its next document (its new collection is dropped; the old one
        stays), or ends the grace of one that switched already; queued ones never start."""
        self._stopping.set()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _check_embedder(self, expected: tuple[str, str | None] | None) -> None:
        if expected is None:
            return
        ours = self.settings.embedding
        path = str(ours.model_path.resolve()) if ours.model_path else None
        if expected != (ours.backend, path):
            raise InvalidRequest(
                f"this server embeds with backend {ours.backend!r} and model {path or 'the packaged one'}; the "
                f"request expects backend {expected[0]!r} and model {expected[1] or 'the packaged one'}. A new "
                "embedder needs the processes that answer restarted with it: stop the server and re-index "
                "locally, or serve from a Qdrant server (RAGQA_QDRANT__URL) and re-index from another process")

    def _chunking(self, overrides: dict[str, int]) -> ChunkingSettings:
        try:
            return ChunkingSettings.model_validate({**self.settings.chunking.model_dump(), **overrides})
        except ValidationError as exc:
            problems = "; ".join(str(e.get("msg", "invalid")) for e in exc.errors())
            raise InvalidRequest(f"chunking: {problems}") from exc

    def _forget_old(self) -> None:
        """Drops the oldest finished tasks past ``KEPT_TASKS`` (called with the lock held)."""
        finished = [t.task_id for t in self._tasks.values() if t.state in ("done", "failed")]
        for task_id in finished[:max(0, len(self._tasks) - KEPT_TASKS)]:
            del self._tasks[task_id]

    def _update(self, task: ReindexTask, **changes: Any) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(task, name, value)

    def _run(self, task: ReindexTask) -> None:
        if self._stopping.is_set():
            self._update(task, state="failed", finished_at=time.time(),
                         error={"code": "cancelled", "message": "the server stopped before the re-index started"})
            return
        settings = self.settings.model_copy(update={"chunking": task.chunking})
        pipeline = IngestPipeline(self.embedder, self.sparse, self.index, settings)
        self._update(task, state="running", started_at=time.time())
        try:
            total = self.index.stats(task.collection).documents
            self._update(task, documents_total=total)
            report = reindex_collection(pipeline, self.index, task.collection, grace_s=task.options.grace_s,
                                        read_files=task.options.read_files,
                                        on_result=lambda result: self._heard(task, result),
                                        sleep=lambda seconds: self._grace(task, seconds))
        except RagqaError as exc:
            self._finish(task, None, exc)
        except Exception as exc:  # a bug must fail the task with a reason, not vanish with the thread
            log.exception("reindex.crashed", task_id=task.task_id, collection=task.collection)
            self._finish(task, None, RagqaError(f"{type(exc).__name__}: {exc}"))
        else:
            self._finish(task, report, None)
        finally:
            pipeline.close()

    def _heard(self, task: ReindexTask, result: DocumentResult) -> None:
        if self._stopping.is_set():
            raise IngestError("the server is stopping: re-index abandoned, the old collection still answers")
        with self._lock:
            if result.status == "failed":
                task.documents_failed += 1
            else:
                task.documents_done += 1
                task.chunks_written += result.chunks

    def _grace(self, task: ReindexTask, seconds: float) -> None:
        """Called right after the switch: questions that resolved the name before it finish on the old one."""
        self._update(task, switched_at=time.time())
        self._stopping.wait(seconds)

    def _finish(self, task: ReindexTask, report: ReindexReport | None, error: RagqaError | None) -> None:
        self._update(task, state="done" if report is not None else "failed", finished_at=time.time(),
                     report=report.to_dict() if report is not None else None,
                     error=error.to_dict() if error is not None else None)
        if report is not None:
            log.info("reindex.task_done", task_id=task.task_id, **report.to_dict())
        else:
            log.warning("reindex.task_failed", task_id=task.task_id, collection=task.collection,
                        error=error.message if error else None)
