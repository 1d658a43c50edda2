"""Wire models of the collection admin routes (``api/routes/collections.py``): a re-index inside the
server and its progress. (The others are in ``api/schemas.py``.)

    >>> ReindexRequest(chunk_size=160).options().chunking
    {'chunk_size': 160}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.reindex import ReindexOptions
from api.schemas import ErrorDetail


class ReindexRequest(BaseModel):
    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"chunk_size": 160, "chunk_overlap": 16}]})

    chunk_size: int | None = Field(default=None, ge=16, le=8192,
                                   description="Chunk size in tokens for the new collection (default: the server's).")
    chunk_overlap: int | None = Field(default=None, ge=0, le=8191,
                                      description="Overlap in tokens (default: the server's); below `chunk_size`.")
    grace_s: float = Field(default=5.0, ge=0, le=600, description="Seconds the old collection lives on after the "
                           "switch, for questions already reading it.")
    stored_text: bool = Field(default=False, description="Rebuild every document from the text the index kept; "
                              "read no file (by default a document whose recorded source is a file the server can "
                              "still read is parsed again from it).")
    embedding_backend: Literal["onnx-int8", "sentence-transformers"] | None = Field(
        default=None, description="The embedder backend the caller expects the server to have: refused when it has "
        "another (a new embedder needs the server restarted). `ragqa collection reindex` sends its own.")
    embedding_model_path: str | None = Field(
        default=None, max_length=4096, description="With `embedding_backend`: the model folder expected (absolute); "
        "absent: the packaged model.")

    def options(self) -> ReindexOptions:
        chunking = {k: v for k, v in (("chunk_size", self.chunk_size), ("chunk_overlap", self.chunk_overlap))
                    if v is not None}
        expected = (self.embedding_backend, self.embedding_model_path) if self.embedding_backend else None
        return ReindexOptions(chunking, self.grace_s, not self.stored_text, expected)


class ReindexTaskResponse(BaseModel):
    task_id: str
    collection: str
    state: Literal["queued", "running", "done", "failed"] = Field(
        description="`done`: the name points at the new collection and the old one is dropped; `failed`: nothing "
        "switched, the old collection still answers (see `error`, and `report.failures`).")
    status_url: str
    chunk_size: int
    chunk_overlap: int
    grace_s: float
    read_files: bool
    requested_by: str
    created_at: float
    started_at: float | None
    switched_at: float | None = Field(description="When the name moved to the new collection (epoch seconds).")
    finished_at: float | None
    documents_total: int | None = Field(description="Documents in the collection when the re-index started.")
    documents_done: int = Field(description="Documents rebuilt so far (the catch-up pass counts again).")
    documents_failed: int
    chunks_written: int
    report: dict[str, Any] | None = Field(description="Once done: old and new physical collections, documents "
                                          "from files and from stored text, chunks, seconds.")
    error: ErrorDetail | None
