"""What ``EdgeIndex`` sends Qdrant Edge: a collection's config, its points, and search requests.

Pure functions from domain values to engine objects; the index keeps the shards they go to.

Example::

    shard.update(UpdateOperation.upsert_points([edge_point(p) for p in points]))
    hits = shard.query(search_request("rrf", FusionSpec("rrf"), dense, sparse, limit=5, candidates=50,
                                      flt=None, hnsw_ef=128))
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from qdrant_edge import (
    Distance,
    EdgeConfig,
    EdgeSparseVectorParams,
    EdgeVectorParams,
    Filter,
    Fusion,
    Modifier,
    Point,
    Prefetch,
    Query,
    QueryRequest,
    SearchParams,
    UpdateOperation,
)
from qdrant_edge import SparseVector as EdgeSparseVector

from core.errors import InvalidRequest
from core.types import FusionMode, FusionSpec, SparseVector
from retrieval.index import DENSE, SPARSE, IndexPoint, chunk_payload, vectors_to_fetch
from retrieval.versions import VERSION_POINT_ID, version_payload


def collection_config(dense_size: int) -> EdgeConfig:
    return EdgeConfig(
        vectors={DENSE: EdgeVectorParams(size=dense_size, distance=Distance.Cosine)},
        sparse_vectors={SPARSE: EdgeSparseVectorParams(modifier=Modifier.Idf)},
    )


def edge_point(point: IndexPoint) -> Point:
    return Point(point.chunk.chunk_id,
                 {DENSE: point.dense.tolist(), SPARSE: EdgeSparseVector(point.sparse.indices, point.sparse.values)},
                 chunk_payload(point))


def version_update(token: str) -> UpdateOperation:
    return UpdateOperation.upsert_points([Point(VERSION_POINT_ID, {}, version_payload(token))])


def search_request(mode: FusionMode, fusion: FusionSpec, dense: npt.NDArray[np.float32] | None,
                   sparse: SparseVector | None, *, limit: int, candidates: int, flt: Filter | None,
                   hnsw_ef: int) -> QueryRequest:
    """The request of a query run in ``mode`` (``effective_mode``), without payloads: they are read by
    id afterwards, as through the query they cost ~10x more."""
    with_vector = vectors_to_fetch(mode, dense)
    if mode in ("dense", "sparse"):
        return nearest_request(dense if mode == "dense" else None, sparse if mode == "sparse" else None,
                               limit, flt, with_vector, hnsw_ef)
    # The stub types Fusion's variants as classes apart from Fusion, though the engine takes them.
    fused: Any
    if mode == "rrf":
        weights = [fusion.dense_weight, fusion.sparse_weight] if fusion.weighted else None
        fused = Fusion.Rrf(k=fusion.rrf_k, weights=weights)
    else:
        fused = Fusion.Dbsf()
    assert dense is not None and sparse is not None  # effective_mode fuses only with both
    return QueryRequest(
        limit=limit,
        prefetches=[Prefetch(limit=candidates, query=_dense_query(dense), filter=flt,
                             params=SearchParams(hnsw_ef=hnsw_ef)),
                    Prefetch(limit=candidates, query=_sparse_query(sparse), filter=flt)],
        query=fused, filter=flt, with_payload=False, with_vector=with_vector,
    )


def nearest_request(dense: npt.NDArray[np.float32] | None, sparse: SparseVector | None, limit: int,
                    flt: Filter | None, with_vector: list[str] | bool, hnsw_ef: int) -> QueryRequest:
    """One retriever's request, no payload: the dense one when ``dense`` is given, else BM25."""
    if dense is not None:
        return QueryRequest(limit=limit, query=_dense_query(dense), filter=flt,
                            params=SearchParams(hnsw_ef=hnsw_ef), with_payload=False, with_vector=with_vector)
    if sparse is not None:
        return QueryRequest(limit=limit, query=_sparse_query(sparse), filter=flt, with_payload=False,
                            with_vector=with_vector)
    raise InvalidRequest("a search needs a dense or a sparse query vector")


def _dense_query(dense: npt.NDArray[np.float32]) -> Query:
    return Query.Nearest(dense.tolist(), using=DENSE)


def _sparse_query(sparse: SparseVector) -> Query:
    return Query.Nearest(EdgeSparseVector(sparse.indices, sparse.values), using=SPARSE)
