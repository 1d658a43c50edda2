"""What an ingest run did, per document and in total."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from core.errors import RagqaError
from ingest.sources import SourceDocument

Status = Literal["added", "updated", "unchanged", "failed"]


@dataclass(slots=True)
class DocumentResult:
    doc_id: str
    source: str
    status: Status
    chunks: int = 0
    error_code: str | None = None
    reason: str | None = None
    transient: bool = False  # the failure may pass on its own (store unreachable): worth a retry

    @classmethod
    def failure(cls, source: SourceDocument, exc: Exception) -> DocumentResult:
        code = exc.code if isinstance(exc, RagqaError) else "ingest_error"
        transient = isinstance(exc, RagqaError) and exc.transient
        return cls(source.doc_id, source.source, "failed", error_code=code, reason=str(exc), transient=transient)


@dataclass(slots=True)
class IngestReport:
    collection: str
    results: list[DocumentResult] = field(default_factory=list)
    seconds: float = 0.0
    removed: dict[str, int] = field(default_factory=dict)  # --sync: doc_id -> chunks, files gone

    def add(self, result: DocumentResult) -> None:
        self.results.append(result)

    def counts(self) -> dict[str, int]:
        counts = {"added": 0, "updated": 0, "unchanged": 0, "failed": 0}
        for r in self.results:
            counts[r.status] += 1
        return counts

    @property
    def chunks_written(self) -> int:
        return sum(r.chunks for r in self.results if r.status in ("added", "updated"))

    @property
    def failures(self) -> list[DocumentResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_written / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection, **self.counts(), "chunks_written": self.chunks_written,
            "seconds": round(self.seconds, 3), "chunks_per_second": round(self.chunks_per_second, 2),
            "failures": [{k: v for k, v in asdict(r).items() if k != "transient"} for r in self.failures],
            "removed": dict(self.removed),
        }
