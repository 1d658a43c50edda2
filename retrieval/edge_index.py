"""The index on Qdrant Edge: an embedded engine with HNSW, payload indexes and fusion in-process.

One Edge shard holds one collection, so the store is a folder of shard folders (see
``retrieval.edge_store``). Shards open on first use and stay open until ``close()``. Each shard
also holds the collection's version token (``retrieval.versions``); one process holds the store,
so this index knows the token without reading it again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from qdrant_edge import (
    CountRequest,
    Distance,
    EdgeConfig,
    EdgeShard,
    EdgeSparseVectorParams,
    EdgeVectorParams,
    FacetRequest,
    Filter,
    Fusion,
    Modifier,
    Point,
    Prefetch,
    Query,
    QueryRequest,
    Record,
    ScrollRequest,
    SearchParams,
    UpdateOperation,
)
from qdrant_edge import SparseVector as EdgeSparseVector

from core.errors import IndexUnavailable, InvalidRequest, NotFound, RagqaError
from core.types import Chunk, FusionSpec, ScoredChunk, SearchFilters, SparseVector
from retrieval.edge_filters import FIELD_INDEXES, document_filter, match, ordinals_filter, to_edge_filter
from retrieval.edge_inventory import EdgeInventory
from retrieval.edge_store import (
    Manifest,
    Manifests,
    StoreLock,
    build_collection,
    collection_folder,
    disk_bytes,
    engine_error,
    list_collection_names,
    remove_collection,
    remove_unfinished,
)
from retrieval.index import (
    DENSE,
    SPARSE,
    STATE_FIELDS,
    CollectionStats,
    DocumentState,
    IndexPoint,
    Ranked,
    chunk_of,
    chunk_payload,
    chunks_in_order,
    effective_mode,
    scored_chunks,
    tag_payload,
    vectors_to_fetch,
)
from retrieval.versions import ABSENT, VERSION_POINT_ID, VersionTokens, new_token, read_token, version_payload

T = TypeVar("T")


class EdgeIndex(EdgeInventory):
    """VectorIndex on Qdrant Edge: one shard folder per collection under ``path``; one process per store.

    Writes go to a WAL and are flushed on ``close()``. New points are searchable at once (by brute
    force); ``optimize()`` builds HNSW graphs and vacuums deleted points. It runs on ``close()`` for
    collections this index wrote to (``optimize_on_close``), and a long-lived writer may call it after
    a bulk load.

    Example::

        index = EdgeIndex(Path("data/qdrant"), hnsw_ef=128)
        index.ensure_collection("docs", dense_size=384, embedder="all-MiniLM-L6-v2/onnx-int8")
        index.upsert("docs", points)                    # IndexPoint: a chunk and its two vectors
        hits = index.query("docs", dense, sparse, FusionSpec("rrf"), limit=5)
        index.close()                                   # flushes; optimizes what it wrote
    """

    def __init__(self, path: Path, hnsw_ef: int = 128, optimize_on_close: bool = True) -> None:
        self._root = path
        self._hnsw_ef = hnsw_ef
        self._optimize_on_close = optimize_on_close
        self._lock = StoreLock.acquire(path)
        self._mutex = threading.Lock()  # guards the maps below: the API serves from many threads
        self._shards: dict[str, EdgeShard] = {}
        self._manifests = Manifests(path)
        self._dirty: set[str] = set()
        self._closed = False
        # The store is ours alone (the lock): no other process can move a token, so keep them.
        self._versions = VersionTokens(self._read_version, self._write_version, ttl_s=None)
        remove_unfinished(path)

    # -- plumbing -------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[], T], where: Path | None = None) -> T:
        try:
            return fn()
        except (RagqaError, TypeError, AttributeError):
            raise  # ours, or a programming error: not the engine's to translate
        except Exception as exc:  # Edge raises plain `Exception` for engine errors (pyo3's default)
            raise engine_error(exc, what, where or self._root) from exc

    def _ensure_open(self) -> None:
        # After close() another process may own the folder: touching it (let alone dropping) is unsafe.
        if self._closed:
            raise IndexUnavailable(f"the index at {self._root} is closed")

    def _manifest(self, name: str) -> Manifest | None:
        self._ensure_open()
        return self._manifests.get(name)

    def _shard(self, name: str) -> EdgeShard:
        """The open shard of collection ``name``, opening it on first use."""
        with self._mutex:
            self._ensure_open()
            shard = self._shards.get(name)
            if shard is None:
                if self._manifest(name) is None:
                    raise NotFound(f"collection {name!r} does not exist")
                folder = collection_folder(self._root, name)
                shard = self._call("open a collection", lambda: EdgeShard.load(str(folder)), folder)
                self._shards[name] = shard
            return shard

    def _create(self, name: str, dense_size: int, embedder: str | None) -> None:
        config = EdgeConfig(
            vectors={DENSE: EdgeVectorParams(size=dense_size, distance=Distance.Cosine)},
            sparse_vectors={SPARSE: EdgeSparseVectorParams(modifier=Modifier.Idf)},
        )
        manifest = Manifest(dense_size=dense_size, embedder=embedder)
        token = new_token()  # born versioned: a re-created collection never reuses an old token

        def make_shard(tmp: Path) -> None:
            shard = self._call("create a collection", lambda: EdgeShard.create(str(tmp), config), tmp)
            try:
                for field, schema in FIELD_INDEXES:
                    operation = UpdateOperation.create_field_index(field, schema)
                    self._call("index a payload field", partial(shard.update, operation), tmp)
                self._call("write the index version", partial(shard.update, _version_update(token)), tmp)
            finally:
                shard.close()

        build_collection(self._root, name, manifest, make_shard)
        self._manifests.put(name, manifest)
        self._versions.set(name, token)

    # -- collections ------------------------------------------------------------------------

    def collection_exists(self, name: str) -> bool:
        return self._manifest(name) is not None

    def list_collections(self) -> list[str]:
        self._ensure_open()
        return list_collection_names(self._root)

    def drop_collection(self, name: str) -> None:
        folder = collection_folder(self._root, name)
        with self._mutex:
            self._ensure_open()
            shard = self._shards.pop(name, None)
            if shard is not None:
                self._call("close a collection", shard.close, folder)
            self._manifests.forget(name)
            self._dirty.discard(name)
            remove_collection(folder)
            self._versions.set(name, ABSENT)

    def ensure_collection(self, name: str, dense_size: int, embedder: str | None = None) -> None:
        with self._mutex:
            self._ensure_open()
            if not self._manifests.compatible(name, dense_size, embedder):
                self._create(name, dense_size, embedder)

    def collection_embedder(self, name: str) -> str | None:
        manifest = self._manifest(name)  # read once, then held: this process owns the store
        return manifest.embedder if manifest is not None else None

    # -- writes ---------------------------------------------------------------------------

    def upsert(self, collection: str, points: Sequence[IndexPoint]) -> None:
        # No optimize() here: ingest writes in small batches, and rebuilding HNSW per batch would
        # cost seconds each; unoptimized points are still found (brute force over that segment).
        if not points:
            return
        shard = self._shard(collection)
        edge_points = [
            Point(p.chunk.chunk_id, {DENSE: p.dense.tolist(),
                                     SPARSE: EdgeSparseVector(p.sparse.indices, p.sparse.values)},
                  chunk_payload(p))
            for p in points
        ]
        with self._versions.writing(collection):
            self._call("write points", lambda: shard.update(UpdateOperation.upsert_points(edge_points)))
        self._dirty.add(collection)

    def delete_stale(self, collection: str, doc_id: str, keep_ids: Sequence[str]) -> int:
        return self._delete(collection, document_filter(doc_id, keep_ids=keep_ids))

    def delete_document(self, collection: str, doc_id: str) -> int:
        return self._delete(collection, document_filter(doc_id))

    def set_document_tags(self, collection: str, doc_id: str, tags: dict[str, str]) -> int:
        flt = document_filter(doc_id)
        points = self._count(collection, flt)
        if points:
            update = UpdateOperation.set_payload_by_filter(flt, tag_payload(tags))
            with self._versions.writing(collection):
                self._call("write tags", lambda: self._shard(collection).update(update))
            self._dirty.add(collection)
        return points

    def _delete(self, collection: str, flt: Filter) -> int:
        stale = self._count(collection, flt)
        if stale:
            shard = self._shard(collection)
            with self._versions.writing(collection):
                self._call("delete points", lambda: shard.update(UpdateOperation.delete_points_by_filter(flt)))
            self._dirty.add(collection)
        return stale

    # -- the version token ----------------------------------------------------------------

    def version(self, collection: str) -> str:
        return self._versions.get(collection)

    def cached_version(self, collection: str) -> str | None:
        return self._versions.cached(collection)

    def _read_version(self, collection: str) -> str:
        return read_token(lambda: self._version_point(collection, with_payload=True))

    def _version_point(self, collection: str, with_payload: bool) -> list[Record]:
        shard = self._shard(collection)
        return self._call("read the index version", lambda: shard.retrieve(
            [VERSION_POINT_ID], with_payload=with_payload, with_vector=False))

    def _write_version(self, collection: str, token: str) -> None:
        shard = self._shard(collection)
        self._call("write the index version", lambda: shard.update(_version_update(token)))
        self._dirty.add(collection)

    def optimize(self, collection: str | None = None) -> None:
        """Build HNSW graphs, merge segments and vacuum deletions (blocking; seconds per 10k points)."""
        for name in [collection] if collection else list(self._shards):
            shard = self._shard(name)
            self._call("optimize a collection", shard.optimize)
            self._dirty.discard(name)

    # -- reads ----------------------------------------------------------------------------

    def _count(self, collection: str, flt: Filter | None) -> int:
        shard = self._shard(collection)
        return self._call("count points", lambda: shard.count(CountRequest(exact=True, filter=flt)))

    def count(self, collection: str, filters: SearchFilters | None = None) -> int:
        flt = to_edge_filter(filters)
        # Every filter needs a field the version point lacks; without one, take it off the total.
        return self._count(collection, flt) if flt is not None else self._count_chunks(collection)

    def _count_chunks(self, collection: str) -> int:
        return self._count(collection, None) - len(self._version_point(collection, with_payload=False))

    def document_state(self, collection: str, doc_id: str, content_hash: str, pipeline: str) -> DocumentState:
        flt = document_filter(doc_id)
        points = self._count(collection, flt)
        if points == 0:
            return DocumentState(0, None, None, 0, 0)
        shard = self._shard(collection)
        records, _ = self._call("read points", lambda: shard.scroll(ScrollRequest(
            limit=1, filter=flt, with_payload=list(STATE_FIELDS))))
        payload = (records[0].payload or {}) if records else {}
        same = document_filter(doc_id, match("content_hash", content_hash), match("pipeline", pipeline))
        return DocumentState.from_payload(points, payload, self._count(collection, same))

    def doc_ids_for_source(self, collection: str, source: str) -> list[str]:
        return sorted(self._distinct_doc_ids(collection, Filter(must=[match("source", source)])))

    def _distinct_doc_ids(self, collection: str, flt: Filter | None) -> set[str]:
        # A facet over the doc_id keyword index counts distinct values without reading payloads.
        limit = self._count(collection, flt)
        if limit == 0:
            return set()
        shard = self._shard(collection)
        response = self._call("list documents", lambda: shard.facet(
            FacetRequest("doc_id", limit=limit, exact=True, filter=flt)))
        # Deleted points linger in the payload index (as zero counts) until a vacuum.
        return {str(hit.value) for hit in response.hits if hit.count > 0}

    def stats(self, collection: str) -> CollectionStats:
        manifest = self._manifest(collection)
        if manifest is None:
            raise NotFound(f"collection {collection!r} does not exist")
        return CollectionStats(collection, len(self._distinct_doc_ids(collection, None)),
                               self._count_chunks(collection), manifest.dense_size)

    def chunks_by_ordinal(self, collection: str, doc_id: str, ordinals: Sequence[int]) -> list[Chunk]:
        if not ordinals:
            return []
        shard = self._shard(collection)
        records, _ = self._call("read points", lambda: shard.scroll(ScrollRequest(
            limit=len(ordinals), filter=ordinals_filter(doc_id, ordinals), with_payload=True)))
        return chunks_in_order(records)

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
        flt = to_edge_filter(filters)
        mode = effective_mode(fusion.mode, dense is not None, sparse is not None)
        with_vector = vectors_to_fetch(mode, dense)
        # Payloads are read by id afterwards (``fetch``): through the query they cost ~10x more.
        if mode in ("dense", "sparse"):
            request = self._nearest(dense if mode == "dense" else None, sparse if mode == "sparse" else None,
                                    limit, flt, with_vector)
        else:
            # The stub types Fusion's variants as classes apart from Fusion, though the engine takes them.
            fused: Any
            if mode == "rrf":
                weights = [fusion.dense_weight, fusion.sparse_weight] if fusion.weighted else None
                fused = Fusion.Rrf(k=fusion.rrf_k, weights=weights)
            else:
                fused = Fusion.Dbsf()
            assert dense is not None and sparse is not None  # effective_mode fuses only with both
            request = QueryRequest(
                limit=limit,
                prefetches=[Prefetch(limit=candidates, query=_dense_query(dense), filter=flt,
                                     params=SearchParams(hnsw_ef=self._hnsw_ef)),
                            Prefetch(limit=candidates, query=_sparse_query(sparse), filter=flt)],
                query=fused, filter=flt, with_payload=False, with_vector=with_vector,
            )
        shard = self._shard(collection)
        hits = self._call("search", lambda: shard.query(request))
        chunks = self.fetch(collection, [str(hit.id) for hit in hits])
        return scored_chunks([hit for hit in hits if str(hit.id) in chunks], mode, dense, chunks)

    def ranked(self, collection: str, dense: npt.NDArray[np.float32] | None, sparse: SparseVector | None,
               limit: int, filters: SearchFilters | None = None) -> list[Ranked]:
        request = self._nearest(dense, sparse, limit, to_edge_filter(filters), False)
        shard = self._shard(collection)
        return [Ranked(str(hit.id), float(hit.score)) for hit in self._call("search", lambda: shard.query(request))]

    def _nearest(self, dense: npt.NDArray[np.float32] | None, sparse: SparseVector | None, limit: int,
                 flt: Filter | None, with_vector: list[str] | bool) -> QueryRequest:
        """One retriever's request, no payload: the dense one when ``dense`` is given, else BM25."""
        if dense is not None:
            return QueryRequest(limit=limit, query=_dense_query(dense), filter=flt,
                                params=SearchParams(hnsw_ef=self._hnsw_ef), with_payload=False, with_vector=with_vector)
        if sparse is not None:
            return QueryRequest(limit=limit, query=_sparse_query(sparse), filter=flt, with_payload=False,
                                with_vector=with_vector)
        raise InvalidRequest("a search needs a dense or a sparse query vector")

    def fetch(self, collection: str, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        if not chunk_ids:
            return {}
        shard = self._shard(collection)
        records = self._call("read points", lambda: shard.retrieve(list(chunk_ids), True, False))
        return {str(record.id): chunk_of(record) for record in records}

    def storage_bytes(self) -> int | None:
        return disk_bytes(self._root)

    def close(self) -> None:
        """Optimize what this index wrote (unless disabled), flush to disk, release the store."""
        with self._mutex:
            if self._closed:
                return
            self._closed = True
            shards, self._shards = self._shards, {}
        failure: RagqaError | None = None
        try:
            for name, shard in shards.items():
                steps: list[tuple[str, Callable[[], object]]] = [("flush", shard.flush), ("close", shard.close)]
                if self._optimize_on_close and name in self._dirty:
                    steps.insert(0, ("optimize", shard.optimize))
                for what, step in steps:
                    try:
                        self._call(f"{what} collection {name!r}", step)
                    except RagqaError as exc:
                        failure = failure or exc  # go on closing: the WAL already holds the writes
        finally:
            self._lock.release()
        if failure is not None:
            raise failure


def _version_update(token: str) -> UpdateOperation:
    return UpdateOperation.upsert_points([Point(VERSION_POINT_ID, {}, version_payload(token))])



def _dense_query(dense: npt.NDArray[np.float32]) -> Query:
    return Query.Nearest(dense.tolist(), using=DENSE)


def _sparse_query(sparse: SparseVector) -> Query:
    return Query.Nearest(EdgeSparseVector(sparse.indices, sparse.values), using=SPARSE)
