"""Re-indexing a collection without downtime: a new physical collection built with the current
pipeline (embedder, chunking), the name switched over to it at once, the old one dropped.

1. The documents of the collection the name stands for now (``old``) are listed, with their tags and
   readers, and rebuilt into ``<name>__v<n>`` (``new``) by the ingest pipeline, while ``old`` keeps
   answering every reader of the name.
2. Documents that changed in ``old`` meanwhile (an upload through the API during a re-index on a
   server) are rebuilt again, and those deleted are deleted from ``new``: one catch-up pass.
3. Only when every document was rebuilt, the name is switched (``retrieval.aliases``); readers that
   resolved it just before finish on ``old`` during ``grace_s``, then ``old`` is dropped. Nothing
   is switched when a document failed: ``old`` still answers and ``new`` is dropped.

Where a document's text comes from. Its **file**, when the stored source is a path to a file that
is still there: parsed again like any ingest, so a new parser or chunker version applies, with the
document's id, tags and readers kept (an e-mail's attachments come back out of their message). Else
(an upload, whose bytes the server never keeps, or a file since moved) **the text the index kept**:
each chunk holds its exact span of the document's normalized text, and the chunks overlap or touch,
so together they are the whole text (the whitespace between two chunks comes back as newlines of
the same length, as the document routes rebuild it). That text is chunked anew, whole: a new chunk
size gives really new chunks, not the old chunks cut again. Pages come back from the chunks' page
starts; a workbook's sheet names in chunk titles do not (the first chunk's title is kept).

Example::

    report = reindex_collection(parts.pipeline, parts.index, "docs", grace_s=5)
    report.new     # 'docs__v2': what "docs" names now
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from core.errors import IngestError, InvalidRequest, NotFound, UnsupportedFormat
from core.types import Chunk, PageSpan
from ingest.parsing import ParsedText, format_of
from ingest.pipeline import IngestPipeline
from ingest.report import DocumentResult
from ingest.sources import SourceDocument
from ingest.sync import indexed_documents
from retrieval.aliases import next_physical, switch_over
from retrieval.index import DocumentInfo, VectorIndex
from retrieval.search import stitch

log = structlog.get_logger(__name__)
DONE = ("added", "updated", "unchanged")


@dataclass(slots=True)
class ReindexReport:
    """What a re-index did: the physical collections before and after, where each text came from."""

    collection: str
    old: str
    new: str
    documents: int = 0
    from_files: list[str] = field(default_factory=list)
    from_index: list[str] = field(default_factory=list)
    caught_up: int = 0  # documents rebuilt again, or deleted, because they changed during the build
    chunks: int = 0
    failures: list[DocumentResult] = field(default_factory=list)
    switched: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"collection": self.collection, "old": self.old, "new": self.new, "documents": self.documents,
                "from_files": len(self.from_files), "from_index": len(self.from_index),
                "caught_up": self.caught_up, "chunks": self.chunks, "switched": self.switched,
                "seconds": round(self.seconds, 3),
                "failures": [{"doc_id": r.doc_id, "error_code": r.error_code, "reason": r.reason}
                             for r in self.failures]}


def reindex_collection(pipeline: IngestPipeline, index: VectorIndex, name: str, *, grace_s: float = 5.0,
                       read_files: bool = True, on_result: Callable[[DocumentResult], None] | None = None,
                       sleep: Callable[[float], None] = time.sleep) -> ReindexReport:
    """Rebuild collection ``name`` with ``pipeline`` into a new physical collection and switch to it.

    ``read_files`` False rebuilds every document from the text the index kept, reading no file.
    Raises ``NotFound`` (no such collection), ``InvalidRequest`` (a physical name behind an alias),
    ``IngestError`` (documents that could not be rebuilt: nothing switched).
    """
    started = time.perf_counter()
    if name in index.aliases().values():
        alias = next(a for a, t in index.aliases().items() if t == name)
        raise InvalidRequest(f"{name!r} is the collection behind {alias!r}: re-index {alias!r}")
    if not index.collection_exists(name):
        raise NotFound(f"collection {name!r} does not exist")
    old = index.physical_name(name, fresh=True)
    new = next_physical(name, index.list_physical())
    report = ReindexReport(name, old, new)
    log.info("reindex.start", collection=name, old=old, new=new)
    try:
        before = _snapshot(index, old)
        report.documents = len(before)
        _rebuild(pipeline, index, old, new, list(before.values()), read_files, report, on_result)
        report.caught_up = _catch_up(pipeline, index, old, new, before, read_files, report, on_result)
        report.chunks = index.count(new)
        if report.failures:
            raise IngestError(f"{len(report.failures)} document(s) of {name!r} could not be rebuilt (first: "
                              f"{report.failures[0].doc_id}: {report.failures[0].reason}); nothing was switched: "
                              f"{old!r} still answers")
    except BaseException:
        if new in index.list_physical():
            index.drop_physical(new)
        raise
    switch_over(index, name, new, old, grace_s, sleep)
    report.switched = True
    report.seconds = time.perf_counter() - started
    log.info("reindex.done", **report.to_dict())
    return report


def _snapshot(index: VectorIndex, collection: str) -> dict[str, DocumentInfo]:
    return {d.doc_id: d for d in indexed_documents(index, collection)}


def _rebuild(pipeline: IngestPipeline, index: VectorIndex, old: str, new: str, documents: Sequence[DocumentInfo],
             read_files: bool, report: ReindexReport, on_result: Callable[[DocumentResult], None] | None) -> None:
    """Each document into ``new``: from its file where it can, else (or when that fails) from ``old``'s text."""
    wanted = {d.doc_id: d for d in documents}
    readers = {d.doc_id: _readers(index, old, d.doc_id) for d in documents}
    done: set[str] = set()
    failed: dict[str, DocumentResult] = {}

    def recorder(last_try: bool) -> Callable[[DocumentResult], None]:
        def record(result: DocumentResult) -> None:
            if result.status in DONE:
                done.add(result.doc_id)
            elif last_try and result.doc_id in wanted:
                failed[result.doc_id] = result
            # A document whose file failed is tried again from its stored text: told once, at the end.
            if on_result is not None and (result.status in DONE or last_try or result.doc_id not in wanted):
                on_result(result)
        return record

    files = [SourceDocument(d.doc_id, path.name, d.source, path=path, tags=d.tags, replace_tags=True,
                            acl=readers[d.doc_id])
             for d in documents if read_files and (path := _file_of(d)) is not None and not _attachment(d, documents)]
    if files:
        pipeline.ingest(files, new, on_result=recorder(last_try=False))
    report.from_files.extend(doc_id for doc_id in wanted if doc_id in done)
    rest = [d for d in documents if d.doc_id not in done]
    stored = [s for d in rest if (s := _stored_source(index, old, d, readers[d.doc_id])) is not None]
    if stored:
        pipeline.ingest(stored, new, on_result=recorder(last_try=True))
    report.from_index.extend(d.doc_id for d in rest if d.doc_id in done)
    report.failures[:] = [f for f in report.failures if f.doc_id not in done]  # rebuilt on a later pass
    report.failures.extend(failed.values())
    report.failures.extend(DocumentResult(d.doc_id, d.source, "failed", error_code="not_found",
                                          reason="it left the collection during the re-index")
                           for d in rest if d.doc_id not in done and d.doc_id not in failed)


def _catch_up(pipeline: IngestPipeline, index: VectorIndex, old: str, new: str, before: dict[str, DocumentInfo],
              read_files: bool, report: ReindexReport, on_result: Callable[[DocumentResult], None] | None) -> int:
    """Carry into ``new`` what changed in ``old`` since the listing: changed documents, new ones, deletions."""
    after = _snapshot(index, old)
    changed = [d for doc_id, d in after.items() if _fingerprint(before.get(doc_id)) != _fingerprint(d)]
    gone = [doc_id for doc_id in before if doc_id not in after]
    report.failures[:] = [f for f in report.failures if f.doc_id in after]  # deleted meanwhile: not missing
    for doc_id in gone:
        index.delete_document(new, doc_id)
    if changed:
        _rebuild(pipeline, index, old, new, changed, read_files, report, on_result)
    report.documents = len(after)
    return len(changed) + len(gone)


def _fingerprint(info: DocumentInfo | None) -> tuple[Any, ...] | None:
    """What a write to a document changes: its text, its tags, its ingest time."""
    return None if info is None else (info.content_hash, sorted(info.tags.items()), info.ingested_at, info.chunks)


def _readers(index: VectorIndex, collection: str, doc_id: str) -> tuple[str, ...] | None:
    first = index.chunks_by_ordinal(collection, doc_id, [0])
    return first[0].acl if first else None


def _file_of(document: DocumentInfo) -> Path | None:
    path = Path(document.source)
    return path if document.source and path.is_absolute() and path.is_file() else None


def _attachment(document: DocumentInfo, documents: Iterable[DocumentInfo]) -> bool:
    """Whether the document came out of another one's file (an e-mail's attachment): that one's parse
    brings it back."""
    return any(other.source == document.source and document.doc_id.startswith(f"{other.doc_id}/")
               for other in documents)


def _stored_source(index: VectorIndex, collection: str, document: DocumentInfo,
                   readers: tuple[str, ...] | None) -> SourceDocument | None:
    """The document as the index kept it: its whole normalized text, rebuilt from its chunks."""
    chunks = index.document_chunks(collection, document.doc_id)
    if not chunks:
        return None
    name = Path(document.source).name or f"{document.doc_id}.txt"
    try:
        fmt = format_of(name)
    except UnsupportedFormat:
        fmt = "txt"
    parsed = ParsedText(stored_text(chunks), fmt, title=document.title, pages=_pages(chunks),
                        page_unit=chunks[0].page_unit)
    return SourceDocument(document.doc_id, name, document.source, tags=document.tags, replace_tags=True,
                          acl=readers, title=document.title or None, parsed=parsed)


def stored_text(chunks: Sequence[Chunk]) -> str:
    """The normalized text a document's chunks span: ``text[c.start:c.end] == c.text`` for each."""
    joined = stitch(chunks)
    return "\n" * joined.start + joined.text


def _pages(chunks: Sequence[Chunk]) -> list[PageSpan]:
    """The document's pages as its chunks tell them: where the first chunk's page is, and every page
    that starts inside a chunk."""
    first = min(chunks, key=lambda c: c.start)
    spans = {span.start: span for c in chunks for span in c.page_starts}
    if first.page is not None:
        spans.setdefault(0, PageSpan(first.page, 0, first.page_label))
    return [spans[start] for start in sorted(spans)]

