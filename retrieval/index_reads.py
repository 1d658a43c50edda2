"""The reads both backends answer alike: the version token, chunk counts and a document's state.

Each collection holds one reserved point beside its chunks (``retrieval.versions``). The rules for
reading around it, and what ``DocumentState`` counts, are written here once, over a handful of
engine primitives that each backend (``EdgeIndex``, ``QdrantClientIndex``) supplies.

Example::

    class EdgeIndex(EdgeInventory, IndexReads[Filter]):
        def _count(self, collection: str, flt: Filter | None) -> int: ...   # and the other primitives

    index.count("docs")          # chunks only: the version point is left out
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from core.types import SearchFilters
from retrieval.aliases import on_physical
from retrieval.index import STATE_FIELDS, DocumentState, StoredPoint
from retrieval.versions import VersionTokens, read_token

F = TypeVar("F")  # the engine's filter type


class IndexReads(ABC, Generic[F]):
    """``version``, ``cached_version``, ``count`` and ``document_state`` of a ``VectorIndex``.

    A backend builds ``_versions`` with ``_read_version`` as its reader and implements the
    abstract primitives below. Each takes a collection's name as callers give it and reads the
    collection it stands for now (``retrieval.aliases``): tokens are kept by physical collection.
    """

    _versions: VersionTokens

    @abstractmethod
    def _count(self, collection: str, flt: F | None) -> int:
        """The points matching ``flt`` (every point, the version point too, when None), counted exactly."""

    @abstractmethod
    def _version_point(self, collection: str, with_payload: bool) -> Sequence[StoredPoint]:
        """The reserved version point, or [] without one; ``NotFound`` when the collection is missing."""

    @abstractmethod
    def _filter(self, filters: SearchFilters | None) -> F | None:
        """The engine's filter for ``filters``; None when they restrict nothing."""

    @abstractmethod
    def _document_filter(self, doc_id: str, **fields: str) -> F:
        """One document's points, narrowed to those whose payload ``fields`` hold these values."""

    @abstractmethod
    def _first_payload(self, collection: str, flt: F, fields: Sequence[str]) -> dict[str, Any] | None:
        """These payload ``fields`` of one point matching ``flt``; None when no point matches."""

    @abstractmethod
    def physical_name(self, name: str, fresh: bool = False) -> str:
        """The collection ``name`` stands for now (``retrieval.aliases``)."""

    @abstractmethod
    def cached_physical_name(self, name: str) -> str | None:
        """``physical_name`` when known without I/O, else None."""

    # -- the version token ----------------------------------------------------------------

    @on_physical
    def version(self, collection: str) -> str:
        return self._versions.get(collection)

    def cached_version(self, collection: str) -> str | None:
        physical = self.cached_physical_name(collection)
        return None if physical is None else self._versions.cached(physical)

    def _read_version(self, collection: str) -> str:
        return read_token(lambda: self._version_point(collection, with_payload=True))

    # -- counts ---------------------------------------------------------------------------

    @on_physical
    def count(self, collection: str, filters: SearchFilters | None = None) -> int:
        flt = self._filter(filters)
        # Every filter needs a field the version point lacks; without one, take it off the total.
        return self._count(collection, flt) if flt is not None else self._count_chunks(collection)

    def _count_chunks(self, collection: str) -> int:
        return self._count(collection, None) - len(self._version_point(collection, with_payload=False))

    @on_physical
    def document_state(self, collection: str, doc_id: str, content_hash: str, pipeline: str) -> DocumentState:
        flt = self._document_filter(doc_id)
        points = self._count(collection, flt)
        if points == 0:
            return DocumentState(0, None, None, 0, 0)
        # The point may be gone by now (a concurrent delete): read it as an empty payload.
        payload = self._first_payload(collection, flt, STATE_FIELDS) or {}
        same = self._document_filter(doc_id, content_hash=content_hash, pipeline=pipeline)
        return DocumentState.from_payload(points, payload, self._count(collection, same))
