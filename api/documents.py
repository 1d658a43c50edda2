"""Documents over HTTP: uploads become ingestion jobs; deletes also evict the answers that cited them.

The index moves its own version on every write (``retrieval.versions``), so no answer cached
before an upload or a delete is served after it; evicting the citing answers frees their memory
at once instead of at their TTL.

Example::

    service = DocumentService(index, store, runner, spool, cache, settings)
    await service.upload([upload], "docs", {"team": "legal"})
    # {"job_id": "...", "status_url": "/jobs/...", "documents": ["report.pdf"]}
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import structlog
from fastapi import UploadFile

from api.streaming import run_blocking
from api.uploads import UploadSpool, sanitize_filename, unique_names
from core.errors import InvalidRequest, NotFound, StoreUnavailable, UnsupportedFormat
from core.settings import Settings
from core.types import Chunk, SearchFilters
from generation.answers import relative_source
from ingest.parsing import format_of
from jobs.spec import JobFile, JobRunner, JobSpec, new_job_id
from jobs.store import JobStore
from retrieval.index import DocumentInfo, VectorIndex
from retrieval.search import stitch
from state.answer_cache import AnswerCache
from state.erasure import Erased, erase_document
from state.topology import SyncRedis

log = structlog.get_logger(__name__)
MAX_FILES = 1000
MAX_CONTEXT_CHARS = 5000


class DocumentService:
    """Upload, delete and list, over the index, the job store and the runner.

    Example::

        accepted = await documents.upload(files, "docs", {})
        job = await documents.job(accepted["job_id"])
    """

    def __init__(self, index: VectorIndex, store: JobStore, runner: JobRunner, spool: UploadSpool,
                 cache: AnswerCache, settings: Settings, redis_client: SyncRedis) -> None:
        self.index = index
        self.redis = redis_client  # synchronous, for erasure in a worker thread
        self.store = store
        self.runner = runner
        self.spool = spool
        self.cache = cache
        self.settings = settings

    async def upload(self, files: list[UploadFile], collection: str, tags: dict[str, str] | None,
                     doc_ids: list[str] | None = None, sources: list[str] | None = None,
                     acl: tuple[str, ...] | None = None) -> dict[str, Any]:
        if not files:
            raise InvalidRequest("no files: send one or more `files` parts")
        if len(files) > MAX_FILES:
            raise InvalidRequest(f"at most {MAX_FILES} files per upload")
        names = unique_names([sanitize_filename(f.filename) for f in files])
        ids = checked_labels("doc_ids", doc_ids, len(files), unique=True) or names
        origins = checked_labels("sources", sources, len(files), unique=False) or ids
        # A type no parser reads is refused now, named in the answer, not failed later in the job;
        # the other files still go in (one bad file never sinks an upload).
        rejected: list[dict[str, Any]] = []
        reasons: list[str] = []
        keep: list[int] = []
        for position, (upload, name) in enumerate(zip(files, names, strict=True)):
            try:
                format_of(name)
                keep.append(position)
            except UnsupportedFormat as exc:
                rejected.append({"name": upload.filename or name, "error": exc.to_dict()})
                reasons.append(exc.message)
        if not keep:
            raise UnsupportedFormat("; ".join(reasons))
        files, names = [files[k] for k in keep], [names[k] for k in keep]
        ids, origins = [ids[k] for k in keep], [origins[k] for k in keep]
        folder = await run_blocking(self.spool.new_folder)
        job_id = new_job_id()
        try:
            paths = [await run_blocking(self.spool.save, folder, name, f.file, self.settings.ingest.max_file_bytes)
                     for f, name in zip(files, names, strict=True)]
            queued = tuple(JobFile(doc_id, n, p, dict(tags) if tags is not None else None, origin, acl=acl)
                           for doc_id, n, p, origin in zip(ids, names, paths, origins, strict=True))
            await run_blocking(self.runner.submit, JobSpec(job_id, collection, queued))
        except BaseException:
            await run_blocking(self.spool.remove, folder)
            raise
        log.info("upload.accepted", job_id=job_id, collection=collection, files=len(names), rejected=len(rejected))
        return {"job_id": job_id, "status_url": f"/jobs/{job_id}", "documents": ids, "rejected": rejected}

    async def job(self, job_id: str) -> dict[str, Any]:
        job = await run_blocking(self.store.get, job_id)
        return job.to_dict()

    async def cancel(self, job_id: str) -> dict[str, Any]:
        job = await run_blocking(self.store.request_cancel, job_id)
        return job.to_dict()

    async def delete(self, collection: str, doc_id: str, readers: tuple[str, ...] | None = None) -> dict[str, Any]:
        if readers is not None and not await run_blocking(
                self.index.count, collection, SearchFilters(doc_ids=(doc_id,), readers=readers)):
            raise NotFound(f"document {doc_id!r} is not in collection {collection!r}")  # or not theirs to see
        removed = await run_blocking(self.index.delete_document, collection, doc_id)  # moves the version
        if removed == 0:
            raise NotFound(f"document {doc_id!r} is not in collection {collection!r}")
        erased = await run_blocking(self.erase, collection, doc_id)
        self.cache.metrics.cache_evictions.labels(reason="document_deleted").inc(erased.cached_answers)
        log.info("document.deleted", collection=collection, doc_id=doc_id, chunks=removed, **erased.to_dict())
        return {"collection": collection, "doc_id": doc_id, "chunks_deleted": removed,
                "answers_evicted": erased.cached_answers, "erased": erased.to_dict()}

    def erase(self, collection: str, doc_id: str) -> Erased:
        """What Redis holds of the document's text goes too (``state.erasure``). Redis down: the moved
        index version still hides every older answer; the copies wait for the next delete or their TTL."""
        try:
            return erase_document(self.redis, self.settings.redis.key_prefix, collection, doc_id)
        except StoreUnavailable as exc:
            log.warning("document.erase_failed", collection=collection, doc_id=doc_id, error=exc.message)
            return Erased()

    async def inventory(self, collection: str, filters: SearchFilters | None, source_prefix: str | None,
                        offset: int, limit: int) -> dict[str, Any]:
        """A page of the collection's documents by doc_id; ``source_prefix`` matches the relative source shown."""
        def read() -> tuple[int, list[DocumentInfo]]:
            if not source_prefix:
                page = self.index.list_documents(collection, filters, offset, limit)
                return page.total, page.documents
            # The index stores a local ingest's absolute path, which clients never see: match the name they
            # do see, over every document the other filters leave (one point read per document).
            total = self.index.list_documents(collection, filters, 0, 1).total
            every = self.index.list_documents(collection, filters, 0, max(total, 1)).documents
            matching = [d for d in every if relative_source(d.source, d.doc_id).startswith(source_prefix)]
            return len(matching), matching[offset:offset + limit]

        total, documents = await run_blocking(read)
        after = offset + len(documents)
        return {"collection": collection, "total": total, "offset": offset, "limit": limit,
                "next_offset": after if after < total else None, "documents": [document_out(d) for d in documents]}

    async def document(self, collection: str, doc_id: str, readers: tuple[str, ...] | None = None) -> dict[str, Any]:
        chunks = await self._chunks(collection, doc_id, readers)
        return document_out(DocumentInfo.from_chunks(chunks))

    async def text(self, collection: str, doc_id: str, start: int | None, end: int | None,
                   context: int, readers: tuple[str, ...] | None = None) -> dict[str, Any]:
        """``[start:end]`` of the document's normalized text (all of it by default), with ``context`` around."""
        chunks = await self._chunks(collection, doc_id, readers)
        full = document_text(chunks)
        start = 0 if start is None else start
        end = len(full) if end is None else end
        if not 0 <= start <= end <= len(full):
            raise InvalidRequest(f"the span {start}:{end} is outside the text of {doc_id!r} (0:{len(full)})")
        context = min(max(context, 0), MAX_CONTEXT_CHARS)
        return {"doc_id": doc_id, "collection": collection, "start": start, "end": end, "length": len(full),
                "content_hash": chunks[0].content_hash, "text": full[start:end],
                "before": full[max(start - context, 0):start], "after": full[end:end + context]}

    async def _chunks(self, collection: str, doc_id: str, readers: tuple[str, ...] | None) -> list[Chunk]:
        # A document the caller may not read is "not found", as one that does not exist: no id leaks.
        chunks = await run_blocking(self.index.document_chunks, collection, doc_id, readers)
        if not chunks:
            raise NotFound(f"document {doc_id!r} is not in collection {collection!r}")
        return chunks

    async def names(self) -> list[str]:
        return await run_blocking(self.index.list_collections)

    async def collections(self) -> list[dict[str, Any]]:
        def read() -> list[dict[str, Any]]:
            out = []
            for name in self.index.list_collections():
                stats = self.index.stats(name)
                out.append({"name": name, "documents": stats.documents, "chunks": stats.chunks,
                            "dense_size": stats.dense_size})
            return out

        return await run_blocking(read)


def document_out(info: DocumentInfo) -> dict[str, Any]:
    """A ``DocumentOut``: the stored source (maybe a server path) becomes the relative name citations show."""
    source = relative_source(info.source, info.doc_id)
    suffix = PurePosixPath(source or info.doc_id).suffix.lstrip(".").lower()
    return {"doc_id": info.doc_id, "title": info.title or info.doc_id, "source": source, "tags": info.tags,
            "chunks": info.chunks, "content_hash": info.content_hash, "ingested_at": info.ingested_at,
            "pages": info.pages, "format": suffix or None}


def document_text(chunks: list[Chunk]) -> str:
    """The normalized text citations index into, rebuilt from all of a document's chunks.

    ``stitch`` joins overlapping chunks by their offsets and restores the whitespace between them;
    the text before the first chunk (whitespace the splitter dropped) is restored the same way, so
    ``text[c.start:c.end] == c.text`` for every chunk ``c``.
    """
    joined = stitch(chunks)
    return "\n" * joined.start + joined.text


MAX_LABEL_CHARS = 1024


def checked_labels(field: str, values: list[str] | None, count: int, unique: bool) -> list[str] | None:
    """Per-file ids or sources sent with an upload: one per file, printable, bounded (None when not sent)."""
    values = [v for v in values or [] if v]
    if not values:
        return None
    if len(values) != count:
        raise InvalidRequest(f"`{field}` has {len(values)} values for {count} files: send one per file, in order")
    for value in values:
        if len(value) > MAX_LABEL_CHARS or not value.isprintable() or value != value.strip():
            raise InvalidRequest(f"`{field}`: {value[:80]!r} must be printable, without surrounding spaces, "
                                 f"and at most {MAX_LABEL_CHARS} characters")
    if unique and len(set(values)) != len(values):
        raise InvalidRequest(f"`{field}` repeats a value: each file needs its own")
    return values
