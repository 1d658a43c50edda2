"""The index protocol and the collection schema, shared by every Qdrant backend.

A point is one chunk: named vectors ``dense`` (cosine) and ``sparse`` (BM25 term
weights, IDF applied by Qdrant) plus the payload below. One more point per collection,
without vectors, holds its version token (``retrieval.versions``): every write moves it,
and no search, count or listing shows it. Backends: Qdrant Edge (embedded default),
qdrant-client local mode (embedded, exhaustive) and a Qdrant server through qdrant-client;
``retrieval.backends.open_index`` chooses one by settings. Both map what their engine returns
into ``Chunk`` and ``ScoredChunk`` with the functions at the end of this module.

Example::

    from retrieval.backends import open_index

    index = open_index(QdrantSettings(path=Path("data/qdrant")))
    index.ensure_collection("docs", dense_size=384, embedder=embedder.identity)
    index.upsert("docs", points)                        # IndexPoint: a chunk and its two vectors
    hits = index.query("docs", dense, sparse, FusionSpec("rrf"), limit=5)
    index.close()
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from core.errors import InvalidRequest
from core.types import Chunk, FusionMode, FusionSpec, PageSpan, ScoredChunk, SearchFilters, SparseVector
from retrieval.aliases import CollectionAdmin
from retrieval.versions import VersionSource

DENSE = "dense"
SPARSE = "sparse"
# Payload keys with an index on a server (filters use them).
KEYWORD_FIELDS = ("doc_id", "source", "content_hash", "tag_pairs", "acl")
# The payload keys ``DocumentState`` reads from one of a document's points.
STATE_FIELDS = ("content_hash", "pipeline", "chunk_count", "tags", "acl")
# The payload keys ``DocumentInfo`` reads from one of a document's points (every chunk carries them).
INFO_FIELDS = ("doc_id", "title", "source", "content_hash", "tags", "chunk_count", "ingested_at")


@dataclass(frozen=True, slots=True)
class IndexPoint:
    """A chunk ready for the index: its vectors and the facts that make re-ingest idempotent."""

    chunk: Chunk
    dense: npt.NDArray[np.float32]
    sparse: SparseVector
    chunk_count: int
    pipeline: str


@dataclass(frozen=True, slots=True)
class DocumentState:
    """What the index holds of one document."""

    points: int
    content_hash: str | None
    pipeline: str | None
    chunk_count: int
    matching: int  # points carrying ``content_hash`` and ``pipeline``
    tags: dict[str, str] | None = None
    acl: tuple[str, ...] | None = None

    @classmethod
    def from_payload(cls, points: int, payload: dict[str, Any], matching: int) -> DocumentState:
        """``points`` and ``matching`` counted, the rest read from one point's ``STATE_FIELDS``."""
        return cls(points, payload.get("content_hash"), payload.get("pipeline"),
                   int(payload.get("chunk_count", 0)), matching,
                   dict(payload["tags"] or {}) if "tags" in payload else None,
                   tuple(payload["acl"]) if payload.get("acl") else None)

    @property
    def complete(self) -> bool:
        """All of one version's chunks are present and nothing else is."""
        return self.points == self.matching == self.chunk_count > 0


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """One document of a collection, as its chunks describe it (``source`` as stored: maybe a path).

    ``chunks`` is the count the ingest wrote (``chunk_count``); ``pages`` is the last page a chunk
    starts on, known only where the chunks were read (``document_chunks``).
    """

    doc_id: str
    title: str
    source: str
    tags: dict[str, str]
    chunks: int
    content_hash: str
    ingested_at: datetime | None
    pages: int | None = None

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> DocumentInfo:
        """Read from one point's ``INFO_FIELDS``."""
        ingested = payload.get("ingested_at")
        return cls(str(payload["doc_id"]), payload.get("title") or "", payload.get("source") or "",
                   dict(payload.get("tags") or {}), int(payload.get("chunk_count", 0)),
                   payload.get("content_hash") or "", datetime.fromisoformat(ingested) if ingested else None)

    @classmethod
    def from_chunks(cls, chunks: Sequence[Chunk]) -> DocumentInfo:
        """Read from all of a document's chunks (ordinal order): the first one's facts, the pages of all."""
        first = chunks[0]
        pages = [c.last_page for c in chunks if c.last_page is not None]
        return cls(first.doc_id, first.title, first.source, dict(first.tags), len(chunks), first.content_hash,
                   first.ingested_at, max(pages) if pages else None)


@dataclass(frozen=True, slots=True)
class DocumentPage:
    """A page of a collection's documents by doc_id, and how many documents match in all."""

    total: int
    documents: list[DocumentInfo]


class Ranked(NamedTuple):
    """A search hit before its payload is read: the point's id and its score."""

    chunk_id: str
    score: float


@dataclass(frozen=True, slots=True)
class CollectionStats:
    name: str
    documents: int
    chunks: int
    dense_size: int


class IndexReader(Protocol):
    """The search role (``retrieval.search.HybridRetriever``): queries, the chunks they name, and the
    record of the embedder a query must match."""

    def collection_embedder(self, name: str) -> str | None:
        """The identity of the embedder that wrote the collection; None without a record or collection.

        Cached after the first read (the query path asks on every question). Against a server, a
        collection dropped and re-created by another process is seen by a restarted process.
        """
        ...

    def query(
        self,
        collection: str,
        dense: npt.NDArray[np.float32] | None,
        sparse: SparseVector | None,
        fusion: FusionSpec,
        limit: int,
        filters: SearchFilters | None = None,
        candidates: int = 50,
    ) -> list[ScoredChunk]:
        """Top ``limit`` chunks. Hybrid modes fuse dense and sparse candidates in one engine query.

        Each result's ``dense_score`` is its cosine similarity to ``dense`` when one is given, whatever
        the fusion, so callers can judge the evidence (fused scores have no absolute scale).
        """
        ...

    def ranked(self, collection: str, dense: npt.NDArray[np.float32] | None, sparse: SparseVector | None,
               limit: int, filters: SearchFilters | None = None) -> list[Ranked]:
        """One retriever's top ``limit`` ids and scores (the dense cosine, or BM25), no payload read:
        exactly one of ``dense`` and ``sparse`` is given."""
        ...

    def fetch(self, collection: str, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        """The chunks of these ids; an id no longer stored is absent."""
        ...

    def chunks_by_ordinal(self, collection: str, doc_id: str, ordinals: Sequence[int]) -> list[Chunk]: ...


class IndexWriter(Protocol):
    """The write role (``ingest.pipeline.IngestPipeline``, deletes). Every write (``upsert``,
    ``delete_stale``, ``delete_document``, ``ensure_collection`` creating, ``drop_collection``) moves
    the collection's version token."""

    def ensure_collection(self, name: str, dense_size: int, embedder: str | None = None) -> None:
        """Create the collection, recording ``embedder`` (an ``Embedder.identity``) when given; or check
        an existing one: ``CollectionMismatch`` on another vector size, or on another recorded embedder
        (a collection without a record, made before records existed, accepts any and gets none)."""
        ...

    def drop_collection(self, name: str) -> None:
        """Drop what ``name`` names: an alias with the collection behind it, or a collection with the
        aliases pointing at it."""
        ...

    def upsert(self, collection: str, points: Sequence[IndexPoint]) -> None: ...

    def document_state(self, collection: str, doc_id: str, content_hash: str, pipeline: str) -> DocumentState: ...

    def delete_stale(self, collection: str, doc_id: str, keep_ids: Sequence[str]) -> int:
        """Delete the document's points whose ids are not in ``keep_ids``; returns how many."""
        ...

    def delete_document(self, collection: str, doc_id: str) -> int: ...

    def set_document_tags(self, collection: str, doc_id: str, tags: dict[str, str],
                          acl: tuple[str, ...] | None = None) -> int:
        """Replace the tags (and the ACL, when given) on every point of the document, vectors
        untouched; returns how many."""
        ...

    def doc_ids_for_source(self, collection: str, source: str) -> list[str]: ...


class IndexInventory(Protocol):
    """The catalogue role (the document routes, ``ragqa stats``, readiness, the embedder check)."""

    def collection_exists(self, name: str) -> bool: ...

    def list_collections(self) -> list[str]:
        """The names callers use: aliases, and collections no alias points at (``retrieval.aliases``)."""
        ...

    def count(self, collection: str, filters: SearchFilters | None = None) -> int: ...

    def stats(self, collection: str) -> CollectionStats: ...

    def list_documents(self, collection: str, filters: SearchFilters | None = None, offset: int = 0,
                       limit: int = 50) -> DocumentPage:
        """Documents with a chunk matching ``filters``, sorted by doc_id, ``limit`` from ``offset``."""
        ...

    def document_chunks(self, collection: str, doc_id: str, readers: tuple[str, ...] | None = None) -> list[Chunk]:
        """Every chunk of the document in ordinal order ([] when it is not in the collection, or
        ``readers`` may not read it: ``SearchFilters.readers``)."""
        ...

    def storage_bytes(self) -> int | None: ...


class VectorIndex(IndexReader, IndexWriter, IndexInventory, CollectionAdmin, VersionSource, Protocol):
    """A Qdrant backend: every role, and its version tokens (``VersionSource``: what the answer cache
    reads). Each consumer is typed by the role it uses."""

    def close(self) -> None: ...


def effective_mode(mode: FusionMode, has_dense: bool, has_sparse: bool) -> FusionMode:
    """The mode a query can really run: hybrid falls back to the one vector it has."""
    if mode == "dense" or (mode != "sparse" and not has_sparse):
        if not has_dense:
            raise InvalidRequest(f"a {mode} query needs a dense vector")
        return "dense"
    if mode == "sparse" or not has_dense:
        if not has_sparse:
            raise InvalidRequest(f"a {mode} query needs a sparse vector")
        return "sparse"
    return mode


def cosine(query: npt.NDArray[np.float32] | None, vector: Sequence[float] | None) -> float | None:
    """Cosine similarity of a normalized query to a stored vector (stored dense vectors are normalized)."""
    if query is None or vector is None:
        return None
    return float(np.dot(query, np.asarray(vector, dtype=np.float32)))


def tag_payload(tags: dict[str, str], acl: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The payload fields tags live in: the map, and ``key=value`` pairs for keyword filters; and the
    ACL (a keyword list the read filter matches), when given."""
    return {"tags": dict(tags), "tag_pairs": [f"{k}={v}" for k, v in sorted(tags.items())],
            **({"acl": list(acl)} if acl is not None else {})}


def chunk_payload(point: IndexPoint) -> dict[str, Any]:
    chunk = point.chunk
    ingested = chunk.ingested_at or datetime.now(UTC)
    return {
        "doc_id": chunk.doc_id, "ordinal": chunk.ordinal, "text": chunk.text, "title": chunk.title,
        "source": chunk.source, "start": chunk.start, "end": chunk.end, "page": chunk.page,
        "content_hash": chunk.content_hash, **tag_payload(chunk.tags, chunk.acl),
        **({"page_starts": [_page_start(p) for p in chunk.page_starts]} if chunk.page_starts else {}),
        **({"page_unit": chunk.page_unit} if chunk.page_unit != "page" else {}),
        **({"page_label": chunk.page_label} if chunk.page_label else {}),
        "ingested_at": ingested.isoformat(), "ingested_ts": ingested.timestamp(),
        "chunk_count": point.chunk_count, "pipeline": point.pipeline,
    }


def chunk_from_payload(point_id: str, payload: dict[str, Any]) -> Chunk:
    ingested = payload.get("ingested_at")
    return Chunk(
        chunk_id=str(point_id), doc_id=payload["doc_id"], ordinal=int(payload["ordinal"]),
        text=payload["text"], start=int(payload["start"]), end=int(payload["end"]),
        page=payload.get("page"), title=payload.get("title", ""), source=payload.get("source", ""),
        content_hash=payload.get("content_hash", ""), tags=dict(payload.get("tags") or {}),
        ingested_at=datetime.fromisoformat(ingested) if ingested else None,
        page_starts=tuple(PageSpan(int(item[1]), int(item[0]), str(item[2]) if len(item) > 2 else "")
                          for item in payload.get("page_starts") or ()),
        page_unit=str(payload.get("page_unit") or "page"), page_label=str(payload.get("page_label") or ""),
        acl=tuple(payload.get("acl") or ("*",)),
    )


def _page_start(span: PageSpan) -> list[int | str]:
    """A later page of a chunk as the payload keeps it: [offset, page], and its label where it has one."""
    return [span.start, span.page, span.label] if span.label else [span.start, span.page]


def directory_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# -- what the engines return, as domain types -------------------------------------------------


class StoredPoint(Protocol):
    """A point as either engine returns it from a scroll or a retrieve."""

    @property
    def id(self) -> object: ...

    @property
    def payload(self) -> dict[str, Any] | None: ...


class ScoredPoint(StoredPoint, Protocol):
    """A search hit: a point with its score and the vectors the query asked for."""

    @property
    def score(self) -> float: ...

    @property
    def vector(self) -> object: ...


def chunk_of(point: StoredPoint) -> Chunk:
    return chunk_from_payload(str(point.id), point.payload or {})


def chunks_in_order(points: Iterable[StoredPoint]) -> list[Chunk]:
    """The points' chunks by ordinal (a scroll returns them in id order)."""
    return sorted(map(chunk_of, points), key=lambda c: c.ordinal)


def vectors_to_fetch(mode: FusionMode, dense: npt.NDArray[np.float32] | None) -> list[str] | bool:
    """The stored vectors a query must return for ``scored_chunks``: the dense one, when a dense query
    is given and the mode's score is not already its cosine."""
    return [DENSE] if dense is not None and mode != "dense" else False


def scored_chunks(
    hits: Iterable[ScoredPoint], mode: FusionMode, dense: npt.NDArray[np.float32] | None,
    chunks: Mapping[str, Chunk] | None = None,
) -> list[ScoredChunk]:
    """Hits of a query run in ``mode`` (``effective_mode``), each with its cosine to ``dense`` (None
    without one): a dense query's score is that cosine; other modes' hits carry the stored vector.
    ``chunks`` holds the hits' chunks when they were fetched apart (the hits then carry no payload)."""
    return [
        ScoredChunk(chunks[str(hit.id)] if chunks is not None else chunk_of(hit), float(hit.score),
                    dense_score=float(hit.score) if mode == "dense" else cosine(dense, _stored_dense(hit.vector)))
        for hit in hits
    ]


def _stored_dense(vector: object) -> list[float] | None:
    return vector.get(DENSE) if isinstance(vector, dict) else None
