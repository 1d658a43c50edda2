"""What a job runs: its files, and one document of it as a queue message (both JSON-friendly).

Whoever runs a job (the in-process runner of ``ragqa serve``, or Celery workers) receives a
``JobSpec`` through ``JobRunner.submit``, which records the job and hands each document to
``jobs.document.run_document`` as a ``DocumentTask``.

Example::

    spec = JobSpec(new_job_id(), "docs", (JobFile("a.txt", "a.txt", Path("/spool/1/a.txt")),))
    runner.submit(spec)   # records it as queued, then runs it somewhere
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from ingest.sources import SourceDocument


def new_job_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class JobFile:
    """A file waiting to be ingested; ``doc_id`` is what it will be indexed as."""

    doc_id: str
    name: str
    path: Path
    tags: dict[str, str] | None = None  # merged onto the document's (``SourceDocument.tags``)
    source: str | None = None  # what `ragqa delete --source` matches; default: the name
    root: Path | None = None  # the folder it was found under: a symlink is read only inside it
    replace_tags: bool = False
    acl: tuple[str, ...] | None = None  # who may read it (``SourceDocument.acl``); None keeps the index's

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "path": str(self.path), "root": str(self.root) if self.root else None,
                "acl": list(self.acl) if self.acl is not None else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobFile:
        root = data.get("root")
        tags = data.get("tags")
        acl = data.get("acl")
        return cls(data["doc_id"], data["name"], Path(data["path"]), dict(tags) if tags is not None else None,
                   data.get("source"), Path(root) if root else None, bool(data.get("replace_tags", False)),
                   tuple(acl) if acl is not None else None)

    def to_source(self) -> SourceDocument:
        return SourceDocument(doc_id=self.doc_id, name=self.name, source=self.source or self.name, path=self.path,
                              tags=dict(self.tags) if self.tags is not None else None, root=self.root,
                              replace_tags=self.replace_tags, acl=self.acl)


@dataclass(frozen=True, slots=True)
class JobSpec:
    """Everything a runner needs to run a job."""

    job_id: str
    collection: str
    files: tuple[JobFile, ...]
    owns_files: bool = True  # uploads in a spool folder, removed once ingested; not a user's own paths

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "collection": self.collection, "owns_files": self.owns_files,
                "files": [f.to_dict() for f in self.files]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobSpec:
        files = tuple(JobFile.from_dict(f) for f in data["files"])
        return cls(data["job_id"], data["collection"], files, bool(data.get("owns_files", True)))

    def tasks(self) -> list[DocumentTask]:
        return [DocumentTask(self.job_id, self.collection, f, self.owns_files) for f in self.files]


@dataclass(frozen=True, slots=True)
class DocumentTask:
    """One document of a job, as a queue message."""

    job_id: str
    collection: str
    file: JobFile
    owns_file: bool = True  # an upload in the spool folder: removed once the job is over

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "collection": self.collection, "file": self.file.to_dict(),
                "owns_file": self.owns_file}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DocumentTask:
        return cls(data["job_id"], data["collection"], JobFile.from_dict(data["file"]),
                   bool(data.get("owns_file", True)))


class JobRunner(Protocol):
    """Records a submitted job and runs its documents somewhere (a thread, Celery workers)."""

    def submit(self, spec: JobSpec) -> None: ...

    def close(self) -> None: ...
