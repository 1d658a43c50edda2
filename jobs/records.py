"""What a job is, as stored: its state, and each document's progress.

A job moves ``queued -> running -> done | partial | failed | cancelled``: ``partial`` when some
of its documents failed, ``failed`` when every one did or the job could not run at all. Each of
its documents moves ``queued -> parsing -> embedding -> indexing -> done | failed | cancelled``,
and a final document never moves again (``jobs.scripts`` makes that atomic).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

JobState = Literal["queued", "running", "done", "partial", "failed", "cancelled"]
Move = Literal["refused", "moved", "closed"]
DocState = Literal["queued", "parsing", "embedding", "indexing", "done", "failed", "cancelled"]
RunnerKind = Literal["inprocess", "celery"]
DOC_STATES: tuple[DocState, ...] = ("queued", "parsing", "embedding", "indexing", "done", "failed", "cancelled")
FINAL_DOC_STATES = frozenset({"done", "failed", "cancelled"})
OPEN_JOB_STATES = frozenset({"queued", "running"})


@dataclass(slots=True)
class DocumentProgress:
    doc_id: str
    name: str
    state: DocState = "queued"
    status: str | None = None  # the ingest outcome once done: added, updated or unchanged
    chunks: int = 0
    error_code: str | None = None
    reason: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes | str) -> DocumentProgress:
        data = json.loads(raw)
        return cls(**{k: data[k] for k in _PROGRESS_FIELDS if k in data})


_PROGRESS_FIELDS = tuple(DocumentProgress.__dataclass_fields__)


@dataclass(slots=True)
class Job:
    """One ingestion job as stored: its state and every document's progress."""

    job_id: str
    collection: str
    state: JobState
    created_at: float
    updated_at: float
    documents: list[DocumentProgress] = field(default_factory=list)
    cancel_requested: bool = False
    error_code: str | None = None
    error: str | None = None
    runner: RunnerKind = "celery"

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(DOC_STATES, 0)
        for doc in self.documents:
            counts[doc.state] += 1
        return counts

    @property
    def chunks_written(self) -> int:
        return sum(d.chunks for d in self.documents if d.status in ("added", "updated"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id, "collection": self.collection, "state": self.state,
            "created_at": self.created_at, "updated_at": self.updated_at,
            "cancel_requested": self.cancel_requested, "counts": self.counts(), "total": len(self.documents),
            "chunks_written": self.chunks_written,
            "error": {"code": self.error_code, "message": self.error} if self.error_code else None,
            "documents": [asdict(d) for d in self.documents],
        }  # fmt: skip
