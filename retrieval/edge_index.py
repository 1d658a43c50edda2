"""The index on Qdrant Edge: an embedded engine with HNSW, payload indexes and fusion in-process.

One Edge shard holds one collection, so the store is a folder of shard folders (see
``retrieval.edge_store``). Shards open on first use and stay open until ``close()``. Each shard
also holds the collection's version token (``retrieval.versions``); one process holds the store,
so this index knows the token without reading it again. The token, counts and a document's state
are read as every backend reads them (``retrieval.index_reads``), over this module's primitives.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from qdrant_edge import CountRequest, EdgeShard, FacetRequest, Filter, Record, ScrollRequest, UpdateOperation

from core.errors import IndexUnavailable, NotFound, RagqaError
from core.types import Chunk, FusionSpec, ScoredChunk, SearchFilters, SparseVector
from retrieval.aliases import AliasTable, on_physical, read_alias_file
from retrieval.edge_collections import EdgeCollections
from retrieval.edge_filters import FIELD_INDEXES, document_filter, match, ordinals_filter, to_edge_filter
from retrieval.edge_inventory import EdgeInventory
from retrieval.edge_requests import collection_config, edge_point, nearest_request, search_request, version_update
from retrieval.edge_store import (
    Manifest,
    Manifests,
    StoreLock,
    build_collection,
    collection_folder,
    disk_bytes,
    engine_error,
    remove_unfinished,
)
from retrieval.index import (
    CollectionStats,
    IndexPoint,
    Ranked,
    chunk_of,
    chunks_in_order,
    effective_mode,
    scored_chunks,
    tag_payload,
)
from retrieval.index_reads import IndexReads
from retrieval.versions import VERSION_POINT_ID, VersionTokens, new_token

T = TypeVar("T")


class EdgeIndex(EdgeCollections, EdgeInventory, IndexReads[Filter]):
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
        self._aliases = AliasTable(lambda: read_alias_file(path), ttl_s=None)
        try:
            self._aliases.get()  # read once: the store is ours, only this index changes the table
        except RagqaError:
            self._lock.release()
            raise
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
        config = collection_config(dense_size)
        manifest = Manifest(dense_size=dense_size, embedder=embedder)
        token = new_token()  # born versioned: a re-created collection never reuses an old token

        def make_shard(tmp: Path) -> None:
            shard = self._call("create a collection", lambda: EdgeShard.create(str(tmp), config), tmp)
            try:
                for field, schema in FIELD_INDEXES:
                    operation = UpdateOperation.create_field_index(field, schema)
                    self._call("index a payload field", partial(shard.update, operation), tmp)
                self._call("write the index version", partial(shard.update, version_update(token)), tmp)
            finally:
                shard.close()

        build_collection(self._root, name, manifest, make_shard)
        self._manifests.put(name, manifest)
        self._versions.set(name, token)

    # -- collections ------------------------------------------------------------------------

    @on_physical
    def collection_exists(self, name: str) -> bool:
        return self._manifest(name) is not None

    @on_physical
    def ensure_collection(self, name: str, dense_size: int, embedder: str | None = None) -> None:
        with self._mutex:
            self._ensure_open()
            if not self._manifests.compatible(name, dense_size, embedder):
                self._create(name, dense_size, embedder)

    @on_physical
    def collection_embedder(self, name: str) -> str | None:
        manifest = self._manifest(name)  # read once, then held: this process owns the store
        return manifest.embedder if manifest is not None else None

    # -- writes ---------------------------------------------------------------------------

    @on_physical
    def upsert(self, collection: str, points: Sequence[IndexPoint]) -> None:
        # No optimize() here: ingest writes in small batches, and rebuilding HNSW per batch would
        # cost seconds each; unoptimized points are still found (brute force over that segment).
        if not points:
            return
        shard = self._shard(collection)
        edge_points = [edge_point(p) for p in points]
        with self._versions.writing(collection):
            self._call("write points", lambda: shard.update(UpdateOperation.upsert_points(edge_points)))
        self._dirty.add(collection)

    @on_physical
    def delete_stale(self, collection: str, doc_id: str, keep_ids: Sequence[str]) -> int:
        return self._delete(collection, document_filter(doc_id, keep_ids=keep_ids))

    @on_physical
    def delete_document(self, collection: str, doc_id: str) -> int:
        return self._delete(collection, document_filter(doc_id))

    @on_physical
    def set_document_tags(self, collection: str, doc_id: str, tags: dict[str, str],
                          acl: tuple[str, ...] | None = None) -> int:
        flt = document_filter(doc_id)
        points = self._count(collection, flt)
        if points:
            update = UpdateOperation.set_payload_by_filter(flt, tag_payload(tags, acl))
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

    # -- the version point (``IndexReads`` reads the token through it) ----------------------

    def _version_point(self, collection: str, with_payload: bool) -> list[Record]:
        shard = self._shard(collection)
        return self._call("read the index version", lambda: shard.retrieve(
            [VERSION_POINT_ID], with_payload=with_payload, with_vector=False))

    def _write_version(self, collection: str, token: str) -> None:
        shard = self._shard(collection)
        self._call("write the index version", lambda: shard.update(version_update(token)))
        self._dirty.add(collection)

    def optimize(self, collection: str | None = None) -> None:
        """Build HNSW graphs, merge segments and vacuum deletions (blocking; seconds per 10k points)."""
        for name in [self.physical_name(collection)] if collection else list(self._shards):
            shard = self._shard(name)
            self._call("optimize a collection", shard.optimize)
            self._dirty.discard(name)

    # -- reads (the first four are ``IndexReads``'s primitives) ----------------------------

    def _count(self, collection: str, flt: Filter | None) -> int:
        shard = self._shard(collection)
        return self._call("count points", lambda: shard.count(CountRequest(exact=True, filter=flt)))

    def _filter(self, filters: SearchFilters | None) -> Filter | None:
        return to_edge_filter(filters)

    def _document_filter(self, doc_id: str, **fields: str) -> Filter:
        return document_filter(doc_id, *(match(key, value) for key, value in fields.items()))

    def _first_payload(self, collection: str, flt: Filter, fields: Sequence[str]) -> dict[str, Any] | None:
        shard = self._shard(collection)
        records, _ = self._call("read points", lambda: shard.scroll(ScrollRequest(
            limit=1, filter=flt, with_payload=list(fields))))
        return (records[0].payload or {}) if records else None

    @on_physical
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
        physical = self.physical_name(collection)
        manifest = self._manifest(physical)
        if manifest is None:
            raise NotFound(f"collection {collection!r} does not exist")
        return CollectionStats(collection, len(self._distinct_doc_ids(physical, None)),
                               self._count_chunks(physical), manifest.dense_size)

    @on_physical
    def chunks_by_ordinal(self, collection: str, doc_id: str, ordinals: Sequence[int]) -> list[Chunk]:
        if not ordinals:
            return []
        shard = self._shard(collection)
        records, _ = self._call("read points", lambda: shard.scroll(ScrollRequest(
            limit=len(ordinals), filter=ordinals_filter(doc_id, ordinals), with_payload=True)))
        return chunks_in_order(records)

    @on_physical
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
        # The request reads no payload: ``fetch`` reads them by id afterwards, ~10x cheaper.
        request = search_request(mode, fusion, dense, sparse, limit=limit, candidates=candidates, flt=flt,
                                 hnsw_ef=self._hnsw_ef)
        shard = self._shard(collection)
        hits = self._call("search", lambda: shard.query(request))
        chunks = self.fetch(collection, [str(hit.id) for hit in hits])
        return scored_chunks([hit for hit in hits if str(hit.id) in chunks], mode, dense, chunks)

    @on_physical
    def ranked(self, collection: str, dense: npt.NDArray[np.float32] | None, sparse: SparseVector | None,
               limit: int, filters: SearchFilters | None = None) -> list[Ranked]:
        request = nearest_request(dense, sparse, limit, to_edge_filter(filters), False, self._hnsw_ef)
        shard = self._shard(collection)
        return [Ranked(str(hit.id), float(hit.score)) for hit in self._call("search", lambda: shard.query(request))]

    @on_physical
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

