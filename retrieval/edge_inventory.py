"""The document inventory on Qdrant Edge: which documents a collection holds, and one's chunks.

A mixin of ``EdgeIndex`` (kept apart so that module stays one engine adapter of a readable size);
it uses the index's own shard, call and count plumbing, named by ``_EdgeHost``.

Example::

    index = EdgeIndex(Path("data/qdrant"))
    page = index.list_documents("docs", SearchFilters(tags_all=(("team", "legal"),)), offset=0, limit=20)
    chunks = index.document_chunks("docs", page.documents[0].doc_id)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

from qdrant_edge import EdgeShard, Filter, ScrollRequest

from core.types import Chunk, SearchFilters
from retrieval.aliases import on_physical
from retrieval.edge_filters import document_filter, to_edge_filter
from retrieval.index import INFO_FIELDS, DocumentInfo, DocumentPage, chunks_in_order

T = TypeVar("T")


class _EdgeHost(Protocol):
    """What the mixin needs of ``EdgeIndex``."""

    def _shard(self, name: str) -> EdgeShard: ...

    def _call(self, what: str, fn: Callable[[], T], where: Path | None = None) -> T: ...

    def _count(self, collection: str, flt: Filter | None) -> int: ...

    def _distinct_doc_ids(self, collection: str, flt: Filter | None) -> set[str]: ...


class EdgeInventory:
    """``VectorIndex.list_documents`` and ``document_chunks`` for ``EdgeIndex``."""

    @on_physical
    def list_documents(self: _EdgeHost, collection: str, filters: SearchFilters | None = None, offset: int = 0,
                       limit: int = 50) -> DocumentPage:
        doc_ids = sorted(self._distinct_doc_ids(collection, to_edge_filter(filters)))
        if not doc_ids:
            return DocumentPage(0, [])
        # Only the page's documents are read, one point each.
        shard = self._shard(collection)
        documents = []
        for doc_id in doc_ids[offset:offset + limit]:
            records, _ = self._call("read a document", lambda d=doc_id: shard.scroll(ScrollRequest(  # type: ignore[misc]
                limit=1, filter=document_filter(d), with_payload=list(INFO_FIELDS))))
            if records:
                documents.append(DocumentInfo.from_payload(records[0].payload or {}))
        return DocumentPage(len(doc_ids), documents)

    @on_physical
    def document_chunks(self: _EdgeHost, collection: str, doc_id: str,
                        readers: tuple[str, ...] | None = None) -> list[Chunk]:
        flt = to_edge_filter(SearchFilters(readers=readers), doc_id) or document_filter(doc_id)
        points = self._count(collection, flt)
        if points == 0:
            return []
        shard = self._shard(collection)
        records, _ = self._call("read a document", lambda: shard.scroll(ScrollRequest(
            limit=points, filter=flt, with_payload=True)))
        return chunks_in_order(records)
