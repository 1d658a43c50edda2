"""The document inventory on qdrant-client: which documents a collection holds, and one's chunks.

A mixin of ``QdrantClientIndex`` (kept apart so that module stays one engine adapter of a readable
size); it uses the index's own client, call and document-listing plumbing, named by ``_ClientHost``.

Example::

    index = QdrantClientIndex.for_local(Path("data/qdrant"))
    page = index.list_documents("docs", SearchFilters(tags_all=(("team", "legal"),)), offset=0, limit=20)
    chunks = index.document_chunks("docs", page.documents[0].doc_id)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from qdrant_client import QdrantClient, models

from core.types import Chunk, SearchFilters
from retrieval.aliases import on_physical
from retrieval.index import INFO_FIELDS, DocumentInfo, DocumentPage, chunks_in_order
from retrieval.qdrant_client_filters import document_filter, to_qdrant_filter

T = TypeVar("T")


class _ClientHost(Protocol):
    """What the mixin needs of ``QdrantClientIndex``."""

    _client: QdrantClient

    def _call(self, what: str, fn: Callable[[], T]) -> T: ...

    def _distinct_doc_ids(self, collection: str, flt: models.Filter | None) -> set[str]: ...


class QdrantClientInventory:
    """``VectorIndex.list_documents`` and ``document_chunks`` for ``QdrantClientIndex``."""

    @on_physical
    def list_documents(self: _ClientHost, collection: str, filters: SearchFilters | None = None, offset: int = 0,
                       limit: int = 50) -> DocumentPage:
        doc_ids = sorted(self._distinct_doc_ids(collection, to_qdrant_filter(filters)))
        documents = []
        for doc_id in doc_ids[offset:offset + limit]:
            records, _ = self._call("read a document", lambda d=doc_id: self._client.scroll(  # type: ignore[misc]
                collection, scroll_filter=document_filter(d), limit=1, with_payload=list(INFO_FIELDS)))
            if records:
                documents.append(DocumentInfo.from_payload(records[0].payload or {}))
        return DocumentPage(len(doc_ids), documents)

    @on_physical
    def document_chunks(self: _ClientHost, collection: str, doc_id: str,
                        readers: tuple[str, ...] | None = None) -> list[Chunk]:
        flt = to_qdrant_filter(SearchFilters(readers=readers), doc_id) or document_filter(doc_id)
        records: list[Any] = []
        offset: Any = None
        while True:
            page, offset = self._call("read a document", lambda o=offset: self._client.scroll(  # type: ignore[misc]
                collection, scroll_filter=flt, limit=1024, offset=o, with_payload=True))
            records.extend(page)
            if offset is None:
                return chunks_in_order(records)
