"""What ``QdrantClientIndex`` sends qdrant-client: a collection's schema, its points, and searches.

Pure functions from domain values to qdrant-client models (and the keyword arguments they go in);
the index keeps the client calls around them.

Example::

    client.create_collection("docs", **collection_config(384, embedder="all-MiniLM-L6-v2/onnx-int8"))
    client.upsert("docs", [point_struct(p) for p in points], wait=True)
    client.query_points("docs", limit=5, **search_kwargs("rrf", FusionSpec("rrf"), dense, sparse, 50, None))
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from qdrant_client import models

from core.errors import InvalidRequest
from core.types import FusionMode, FusionSpec, SparseVector
from retrieval.index import DENSE, KEYWORD_FIELDS, SPARSE, IndexPoint, chunk_payload
from retrieval.versions import VERSION_POINT_ID, version_payload

EMBEDDER_KEY = "ragqa_embedder"  # in the collection's metadata: the writer's ``Embedder.identity``

# The payload indexes a server collection gets (local mode has none: it scans). `source` is indexed
# for prefix matching too (SearchFilters.source_prefix).
PAYLOAD_INDEXES: tuple[tuple[str, models.PayloadSchemaType | models.KeywordIndexParams], ...] = (
    *((field, models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, prefix=True)
       if field == "source" else models.PayloadSchemaType.KEYWORD) for field in KEYWORD_FIELDS),
    ("ingested_ts", models.PayloadSchemaType.FLOAT),
)


def collection_config(dense_size: int, embedder: str | None) -> dict[str, Any]:
    """``create_collection``'s keyword arguments: the two named vectors and the embedder record."""
    return {
        "vectors_config": {DENSE: models.VectorParams(size=dense_size, distance=models.Distance.COSINE)},
        "sparse_vectors_config": {SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        "metadata": {EMBEDDER_KEY: embedder} if embedder is not None else None,
    }


def point_struct(point: IndexPoint) -> models.PointStruct:
    return models.PointStruct(
        id=point.chunk.chunk_id,
        vector={DENSE: point.dense.tolist(),
                SPARSE: models.SparseVector(indices=point.sparse.indices, values=point.sparse.values)},
        payload=chunk_payload(point),
    )


def version_struct(token: str) -> models.PointStruct:
    return models.PointStruct(id=VERSION_POINT_ID, vector={}, payload=version_payload(token))


def search_kwargs(mode: FusionMode, fusion: FusionSpec, dense: npt.NDArray[np.float32] | None,
                  sparse: SparseVector | None, candidates: int, flt: models.Filter | None) -> dict[str, Any]:
    """``query_points``'s query arguments for a query run in ``mode`` (``effective_mode``)."""
    sparse_query = models.SparseVector(indices=sparse.indices, values=sparse.values) if sparse else None
    dense_query = dense.tolist() if dense is not None else None
    if mode == "dense":
        return {"query": dense_query, "using": DENSE}
    if mode == "sparse":
        return {"query": sparse_query, "using": SPARSE}
    fused: models.Query
    if mode == "rrf":
        weights = [fusion.dense_weight, fusion.sparse_weight] if fusion.weighted else None
        fused = models.RrfQuery(rrf=models.Rrf(k=fusion.rrf_k, weights=weights))
    else:
        fused = models.FusionQuery(fusion=models.Fusion.DBSF)
    return {
        "prefetch": [
            models.Prefetch(query=dense_query, using=DENSE, limit=candidates, filter=flt),
            models.Prefetch(query=sparse_query, using=SPARSE, limit=candidates, filter=flt),
        ],
        "query": fused,
    }


def nearest_kwargs(dense: npt.NDArray[np.float32] | None, sparse: SparseVector | None) -> dict[str, Any]:
    """One retriever's query arguments: the dense one when ``dense`` is given, else BM25."""
    if dense is not None:
        return {"query": dense.tolist(), "using": DENSE}
    if sparse is not None:
        return {"query": models.SparseVector(indices=sparse.indices, values=sparse.values), "using": SPARSE}
    raise InvalidRequest("a search needs a dense or a sparse query vector")
