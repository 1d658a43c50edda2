"""An in-memory index in the write role (``retrieval.index.IndexWriter``), for unit tests of what
writes an index (the ingest pipeline's ordering, grouping and retries): whole points kept in a
dict, the same state rules as the engines (a document's state, stale points, tags), no search.
The engines themselves are tested against a real embedded Qdrant."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from core.errors import CollectionMismatch
from retrieval.index import DocumentState, IndexPoint, IndexWriter


@dataclass
class MemoryCollection:
    dense_size: int
    embedder: str | None
    points: dict[str, IndexPoint] = field(default_factory=dict)


class MemoryIndex:
    """``IndexWriter`` over dicts. ``on_write(event, doc_id)`` hears every write (``prepare``,
    ``write``, ``delete``), on the thread that made it."""

    def __init__(self, on_write: Callable[[str, str], None] | None = None) -> None:
        self.collections: dict[str, MemoryCollection] = {}
        self.on_write = on_write or (lambda event, doc_id: None)

    def points(self, collection: str) -> dict[str, IndexPoint]:
        return self.collections[collection].points if collection in self.collections else {}

    def ensure_collection(self, name: str, dense_size: int, embedder: str | None = None) -> None:
        existing = self.collections.get(name)
        if existing is None:
            self.collections[name] = MemoryCollection(dense_size, embedder)
        elif existing.dense_size != dense_size:
            raise CollectionMismatch(f"collection {name!r} holds {existing.dense_size}-dimensional vectors")

    def drop_collection(self, name: str) -> None:
        self.collections.pop(name, None)

    def upsert(self, collection: str, points: Sequence[IndexPoint]) -> None:
        for doc_id in dict.fromkeys(p.chunk.doc_id for p in points):
            self.on_write("write", doc_id)
        self.collections[collection].points.update({p.chunk.chunk_id: p for p in points})

    def document_state(self, collection: str, doc_id: str, content_hash: str, pipeline: str) -> DocumentState:
        self.on_write("prepare", doc_id)
        mine = [p for p in self.points(collection).values() if p.chunk.doc_id == doc_id]
        if not mine:
            return DocumentState(0, None, None, 0, 0)
        matching = sum(p.chunk.content_hash == content_hash and p.pipeline == pipeline for p in mine)
        first = mine[0]
        return DocumentState(len(mine), first.chunk.content_hash, first.pipeline, first.chunk_count, matching,
                             dict(first.chunk.tags))

    def delete_stale(self, collection: str, doc_id: str, keep_ids: Sequence[str]) -> int:
        keep = set(keep_ids)
        return self._delete(collection, lambda p: p.chunk.doc_id == doc_id and p.chunk.chunk_id not in keep)

    def delete_document(self, collection: str, doc_id: str) -> int:
        self.on_write("delete", doc_id)
        return self._delete(collection, lambda p: p.chunk.doc_id == doc_id)

    def set_document_tags(self, collection: str, doc_id: str, tags: dict[str, str],
                          acl: tuple[str, ...] | None = None) -> int:
        points = self.points(collection)
        mine = [k for k, p in points.items() if p.chunk.doc_id == doc_id]
        for key in mine:
            point = points[key]
            chunk = replace(point.chunk, tags=dict(tags), acl=acl if acl is not None else point.chunk.acl)
            points[key] = replace(point, chunk=chunk)
        return len(mine)

    def doc_ids_for_source(self, collection: str, source: str) -> list[str]:
        return sorted({p.chunk.doc_id for p in self.points(collection).values() if p.chunk.source == source})

    def _delete(self, collection: str, doomed: Callable[[IndexPoint], bool]) -> int:
        points = self.points(collection)
        gone = [k for k, p in points.items() if doomed(p)]
        for key in gone:
            del points[key]
        return len(gone)


def _implements_the_protocol() -> IndexWriter:
    """Never called: mypy checks tests/support, so ``MemoryIndex`` is a whole ``IndexWriter``."""
    return MemoryIndex()
