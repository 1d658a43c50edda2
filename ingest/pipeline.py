"""The ingestion pipeline: parse -> chunk -> embed -> index, streaming in batches.

Documents flow through in groups of about ``flush_chunks`` chunks. One background thread
computes a group's dense vectors (the slow part) while the calling thread parses and chunks
the next group and writes the one before (sparse vectors, upserts), so the embedder is not
left idle; memory holds at most two groups (texts and vectors), never a corpus. Each
document is written whole, once its vectors exist, and then its stale chunks are removed, so
re-ingest is idempotent and a crash leaves either the old version, the new one, or (until
the retry) both complete: never half a document.

Example::

    pipeline = IngestPipeline(embedder, sparse, index, settings)
    report = pipeline.ingest(iter_sources([Path("docs")]), collection="docs")
    report.counts()  # {'added': 3, 'updated': 0, 'unchanged': 0, 'failed': 0}
"""

from __future__ import annotations

import contextvars
import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np
import structlog

from core.access import PUBLIC
from core.errors import DocumentTooLarge, IngestError, ParseError, RagqaError
from core.protocols import Embedder, FloatMatrix, SparseEncoder
from core.settings import Settings
from core.types import Chunk, Document
from ingest.chunking import Chunker
from ingest.files import FileToRead
from ingest.parsing import ParsedText, ParseLimits, parse_bytes
from ingest.report import DocumentResult, IngestReport, Status
from ingest.sandbox import ParseSandbox
from ingest.sources import SourceDocument
from ingest.stages import StageObserver, timed_stage
from retrieval.index import IndexPoint, IndexWriter

log = structlog.get_logger(__name__)
# Part of every chunk's pipeline id: bumped when parsing or chunking changes what a document's chunks
# hold, so a re-ingest rewrites documents whose text did not change (2: row positions of CSV and
# XLSX, sheet names in chunk titles, PDF tables as rows).
CHUNKER_VERSION = "2"
Stage = Literal["embedding", "indexing"]
EMBED_SLICE = 128


@dataclass(slots=True)
class _Prepared:
    source: SourceDocument
    document: Document
    chunks: list[Chunk]
    existed: bool


@dataclass(frozen=True, slots=True)
class _Hooks:
    """One ``ingest`` call's callbacks, handed down to the batch steps."""

    record: Callable[[DocumentResult], None]
    on_chunks: Callable[[int], None] | None
    on_stage: Callable[[str, Stage], object] | None
    on_embedded: Callable[[int], object] | None
    cancelled: threading.Event = field(default_factory=threading.Event)  # set: stop embedding


@dataclass(slots=True)
class _Group:
    items: list[_Prepared] = field(default_factory=list)
    chunks: int = 0
    reported: int = 0  # of its chunks, those ``on_embedded`` has heard of (set on the embedding thread)

    def texts(self) -> list[str]:
        return [c.encoded_text for item in self.items for c in item.chunks]


@dataclass(frozen=True, slots=True)
class _Pending:
    """A group handed to the embedding thread; ``dense`` resolves to its vectors, one row per chunk."""

    group: _Group
    dense: Future[FloatMatrix]


def _unheard(on_embedded: Callable[[int], object] | None, heard: int) -> Callable[[int], object] | None:
    """``on_embedded`` for a failed group's retry: its first ``heard`` chunks were counted once
    already (the progress bar would pass its total), so only what lies beyond them is passed on."""
    if on_embedded is None:
        return None
    left = heard

    def report(n: int) -> None:
        nonlocal left
        skipped = min(left, n)
        left -= skipped
        if n > skipped:
            on_embedded(n - skipped)

    return report


class IngestPipeline:
    """Turns source documents into indexed chunks. Reusable across calls and collections."""

    def __init__(self, embedder: Embedder, sparse: SparseEncoder, index: IndexWriter,
                 settings: Settings, flush_chunks: int | None = None, observer: StageObserver | None = None) -> None:
        self.embedder = embedder
        self.observer = observer  # hears each stage's duration (a worker's metrics)
        self.sparse = sparse
        self.index = index
        self._settings = settings
        self._chunker = Chunker(embedder.tokenize, embedder.max_seq_length, settings.chunking)
        limits = ParseLimits.from_settings(settings.ingest)
        self._sandbox = (ParseSandbox(limits, settings.ingest.parse_timeout_s, settings.ingest.parse_memory_bytes)
                         if settings.ingest.parse_isolation else None)
        self._limits = limits
        self._flush_chunks = flush_chunks or max(64, settings.embedding.batch_size * 4)
        signature = "|".join([
            embedder.model_name, str(embedder.dimension), sparse.name, CHUNKER_VERSION,
            str(settings.chunking.chunk_size), str(settings.chunking.chunk_overlap),
        ])
        self.pipeline_id = hashlib.sha256(signature.encode()).hexdigest()[:16]

    def ingest(
        self,
        sources: Iterable[SourceDocument],
        collection: str,
        on_result: Callable[[DocumentResult], None] | None = None,
        on_chunks: Callable[[int], None] | None = None,
        on_stage: Callable[[str, Stage], object] | None = None,
        on_parsed: Callable[[SourceDocument, int], object] | None = None,
        on_embedded: Callable[[int], object] | None = None,
    ) -> IngestReport:
        """Ingest every source; failures are reported per document and never stop the batch.

        Results are recorded as documents finish, so not always in source order: a document found
        unchanged, or failing to parse, can be reported before earlier ones still embedding.

        ``on_stage(doc_id, stage)`` hears when a parsed document waits for its embedding batch
        (``"embedding"``) and when its points start to be written (``"indexing"``);
        ``on_parsed(source, chunks)`` when a document is parsed and chunked and will be embedded;
        ``on_embedded(n)`` as each slice of ``n`` chunks is embedded (the slow part). ``on_embedded``
        is called from the embedding thread, every other hook from the calling thread: the callers'
        ``on_embedded`` (rich's ``Progress.advance``, ``list.append``) are thread-safe.
        """
        started = time.perf_counter()
        report = IngestReport(collection=collection)
        self.index.ensure_collection(collection, self.embedder.dimension, self.embedder.identity)

        def record(result: DocumentResult) -> None:
            report.add(result)
            if on_result:
                on_result(result)

        hooks = _Hooks(record, on_chunks, on_stage, on_embedded)
        # One background thread embeds group N while this one prepares group N+1 and writes group
        # N-1. Parsing, the index and every hook but ``on_embedded`` stay on this thread. The pool
        # belongs to this call, so a failed or interrupted ingest leaves no thread behind. With the
        # fp32 backend (SentenceTransformerEmbedder) chunking's tokenize waits for the model lock
        # that an embedding holds: correct, only not overlapped; the default ONNX backend tokenizes
        # without a lock.
        embedding = ThreadPoolExecutor(1, thread_name_prefix="ingest-embed")
        try:
            pending: _Pending | None = None
            group = _Group()
            inner: deque[SourceDocument] = deque()  # documents found inside others (an e-mail's attachments)
            for source in _with_inner(sources, inner):
                prepared = self._prepare(source, collection, record, inner)
                if prepared is None:
                    continue
                if on_parsed:
                    on_parsed(source, len(prepared.chunks))
                if on_stage:
                    on_stage(source.doc_id, "embedding")
                group.items.append(prepared)
                group.chunks += len(prepared.chunks)
                if group.chunks >= self._flush_chunks:
                    pending = self._hand_over(embedding, group, pending, collection, hooks)
                    group = _Group()
            if group.items:
                pending = self._hand_over(embedding, group, pending, collection, hooks)
            if pending is not None:
                self._finish(pending.group, pending.dense.result, collection, hooks)
        except BaseException:
            # A time limit, Ctrl-C or a bug on this thread: the running embedding stops at its next
            # slice rather than finishing a whole group first (a worker's soft time limit leaves
            # seconds before the hard kill).
            hooks.cancelled.set()
            raise
        finally:
            # A group not yet started is dropped; a running one is waited for (at most a slice), so
            # the embedder is free when this returns. Nothing of either was written: no half document.
            embedding.shutdown(wait=True, cancel_futures=True)
        report.seconds = time.perf_counter() - started
        log.info("ingest.done", collection=collection, **report.counts(),
                 chunks=report.chunks_written, seconds=round(report.seconds, 2))
        return report

    def _prepare(self, source: SourceDocument, collection: str, record: Callable[[DocumentResult], None],
                 inner: deque[SourceDocument] | None = None) -> _Prepared | None:
        try:
            with timed_stage("parse", self.observer, {"ragqa.doc_id": source.doc_id}):
                parsed = self._parse(source)
            document = Document(
                doc_id=source.doc_id, title=source.title or parsed.title or Path(source.name).stem,
                source=source.source, text=parsed.text, pages=parsed.pages, format=parsed.format,
                page_unit=parsed.page_unit, sections=parsed.sections,
            )
            state = self.index.document_state(collection, document.doc_id, document.content_hash,
                                              self.pipeline_id)
            document.tags = merged_tags(state.tags, source.tags, source.replace_tags)
            # An ingest that names no ACL keeps the document's: re-reading a folder never opens it up.
            document.acl = source.acl or state.acl or (PUBLIC,)
            if inner is not None:  # an attachment is readable by whoever may read its message
                inner.extend(attachment_sources(replace(source, acl=document.acl), parsed.attachments))
            if state.complete:
                if state.tags == document.tags and state.acl == document.acl:
                    record(DocumentResult(source.doc_id, source.source, "unchanged", chunks=state.points))
                    return None
                # Tags live in the payload only: rewrite them there, keep the vectors (no chunk is
                # written, so none counts as written).
                self.index.set_document_tags(collection, document.doc_id, document.tags, document.acl)
                log.info("ingest.retagged", doc_id=document.doc_id, tags=document.tags, acl=document.acl)
                record(DocumentResult(source.doc_id, source.source, "updated",
                                      reason="tags or access updated, vectors kept"))
                return None
            with timed_stage("chunk", self.observer, {"ragqa.doc_id": source.doc_id}):
                chunks = self._chunker.chunk(document, datetime.now(UTC))
            if not chunks:
                raise ParseError(f"{source.name}: no text to index")
            limit = self._settings.ingest.max_chunks_per_document
            if len(chunks) > limit:
                raise DocumentTooLarge(f"{source.name}: {len(chunks):,} chunks, over the limit of {limit:,} "
                                       "(ingest.max_chunks_per_document)")
            return _Prepared(source, document, chunks, existed=state.points > 0)
        except RagqaError as exc:
            record(DocumentResult.failure(source, exc))
        except (ValueError, RuntimeError, LookupError, OSError) as exc:
            # A parser library failing in a way we did not foresee is still this document's problem.
            record(DocumentResult.failure(source, IngestError(f"{source.name}: {type(exc).__name__}: {exc}")))
        return None

    def _parse(self, source: SourceDocument) -> ParsedText:
        """Read and parse one source; a file on disk is read by the sandbox too, under its deadline."""
        if source.parsed is not None:
            return source.parsed
        ingest = self._settings.ingest
        if self._sandbox is not None and source.path is not None and source.data is None and source.error is None:
            return self._sandbox.parse_file(FileToRead(source.path, source.name, ingest.max_file_bytes,
                                                       source.root, ingest.follow_symlinks))  # fmt: skip
        data = source.read(ingest.max_file_bytes, ingest.follow_symlinks)
        if self._sandbox is not None:
            return self._sandbox.parse(data, source.name)
        return parse_bytes(data, source.name, self._limits)

    def _hand_over(self, embedding: ThreadPoolExecutor, group: _Group, pending: _Pending | None,
                   collection: str, hooks: _Hooks) -> _Pending:
        """Starts ``group``'s embedding, then writes the previous group while it runs."""
        # In this thread's context, so the embedding's span joins the trace of the document it embeds.
        dense = embedding.submit(contextvars.copy_context().run, self._embed_dense, group.texts(), hooks, group)
        submitted = _Pending(group, dense)
        if pending is not None:
            self._finish(pending.group, pending.dense.result, collection, hooks)
        return submitted

    def _finish(self, group: _Group, dense: Callable[[], FloatMatrix], collection: str, hooks: _Hooks) -> None:
        """Waits for ``dense()``, adds the sparse vectors and writes each document whole."""
        try:
            points = self._points(group.items, dense())
        except (RagqaError, ValueError, RuntimeError) as exc:
            if len(group.items) == 1:
                hooks.record(DocumentResult.failure(group.items[0].source, exc))
                return
            # One document broke the batch: retry one at a time so only it fails. On this thread,
            # beside the next group's embedding: a rare path, kept simple.
            log.warning("ingest.batch_failed", error=str(exc), documents=len(group.items))
            retry = replace(hooks, on_embedded=_unheard(hooks.on_embedded, group.reported))
            for item in group.items:
                alone = _Group([item], len(item.chunks))
                self._finish(alone, partial(self._embed_dense, alone.texts(), retry, alone), collection, retry)
            return
        for item, item_points in zip(group.items, points, strict=True):
            if hooks.on_stage:
                hooks.on_stage(item.source.doc_id, "indexing")
            hooks.record(self._write(item, item_points, collection))
            if hooks.on_chunks:
                hooks.on_chunks(len(item_points))

    def _embed_dense(self, texts: list[str], hooks: _Hooks, group: _Group) -> FloatMatrix:
        """The dense vectors of ``texts``: what the embedding thread runs (and the one-by-one retry).

        In slices big enough to keep the embedder's length-sorted batching, small enough to show
        progress within a group and to stop soon after ``hooks.cancelled`` is set.
        """
        parts = []
        with timed_stage("embed", self.observer, {"ragqa.chunks": len(texts), "ragqa.documents": len(group.items)}):
            for start in range(0, len(texts), EMBED_SLICE):
                if hooks.cancelled.is_set():
                    raise IngestError("ingest interrupted: embedding abandoned")
                parts.append(self.embedder.embed_documents(texts[start:start + EMBED_SLICE]))
                group.reported += len(parts[-1])
                if hooks.on_embedded:
                    hooks.on_embedded(len(parts[-1]))
            return np.vstack(parts) if parts else self.embedder.embed_documents(texts)

    def _points(self, items: list[_Prepared], dense: FloatMatrix) -> list[list[IndexPoint]]:
        out: list[list[IndexPoint]] = []
        row = 0
        for item in items:
            count = len(item.chunks)
            out.append([
                IndexPoint(chunk, dense[row + i], self.sparse.encode_document(chunk.encoded_text),
                           chunk_count=count, pipeline=self.pipeline_id)
                for i, chunk in enumerate(item.chunks)
            ])
            row += count
        return out

    def _write(self, item: _Prepared, points: list[IndexPoint], collection: str) -> DocumentResult:
        doc_id = item.document.doc_id
        step = self._settings.ingest.upsert_batch_points
        with timed_stage("write", self.observer, {"ragqa.doc_id": doc_id, "ragqa.chunks": len(points)}):
            try:
                for i in range(0, len(points), step):
                    self.index.upsert(collection, points[i:i + step])
                removed = self.index.delete_stale(collection, doc_id, [p.chunk.chunk_id for p in points])
            except RagqaError as exc:
                return DocumentResult.failure(item.source, exc)
        status: Status = "updated" if item.existed else "added"
        log.debug("ingest.document", doc_id=doc_id, status=status, chunks=len(points), removed=removed)
        return DocumentResult(doc_id, item.source.source, status, chunks=len(points))

    def warm(self) -> None:
        """Starts the parsing process ahead of the first document (a worker's first task stays quick)."""
        if self._sandbox is not None:
            self._sandbox.start()

    def close(self) -> None:
        """Stops the parsing process, if one runs."""
        if self._sandbox is not None:
            self._sandbox.close()

    def delete_document(self, collection: str, doc_id: str) -> int:
        """Remove every chunk of a document; returns how many points went."""
        return self.index.delete_document(collection, doc_id)


def merged_tags(held: dict[str, str] | None, changes: dict[str, str] | None, replace: bool = False) -> dict[str, str]:
    """A document's tags after an ingest: ``changes`` merged onto what the index ``held`` (an ingest
    without tags keeps them all; ``k=`` removes k), or exactly ``changes`` with ``replace``.

        >>> merged_tags({"team": "zoo", "year": "2023"}, {"year": "2024", "team": ""})
        {'year': '2024'}
    """
    base = {} if replace else dict(held or {})
    return {k: v for k, v in {**base, **(changes or {})}.items() if v != ""}


def attachment_sources(carrier: SourceDocument, files: Sequence[tuple[str, bytes]]) -> list[SourceDocument]:
    """A message's attachments as documents of their own: ``<message doc_id>/<file name>``, from the
    message's source (so deleting or syncing the message takes them too), with its tags."""
    sources: list[SourceDocument] = []
    seen: set[str] = set()
    for filename, data in files:
        safe = Path(filename).name or "attachment"
        doc_id, n = f"{carrier.doc_id}/{safe}", 2
        while doc_id in seen:
            doc_id, n = f"{carrier.doc_id}/{Path(safe).stem}-{n}{Path(safe).suffix}", n + 1
        seen.add(doc_id)
        sources.append(SourceDocument(doc_id, safe, carrier.source, data=data, tags=carrier.tags,
                                      replace_tags=carrier.replace_tags, acl=carrier.acl))
    return sources


def _with_inner(sources: Iterable[SourceDocument], inner: deque[SourceDocument]) -> Iterator[SourceDocument]:
    """Each source, then what was found inside it, before the next."""
    for source in sources:
        yield source
        while inner:
            yield inner.popleft()
