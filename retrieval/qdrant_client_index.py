"""The index on qdrant-client: a Qdrant server, or local mode (embedded, exhaustive search).

Each collection holds its version token in a reserved point (``retrieval.versions``). Local mode
is one process per folder, so its tokens are kept in memory; against a server, which other
processes write too, a token is read again once it is ``version_ttl_s`` old. The embedder that
wrote a collection is in the collection's metadata (``EMBEDDER_KEY``; local mode keeps it in its
``meta.json``), read once per collection and process.

Example::

    index = QdrantClientIndex.for_local(Path("data/qdrant"))                        # local mode
    index = QdrantClientIndex.for_server(QdrantSettings(url="http://qdrant:6333"))  # a server
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from core.errors import CollectionMismatch, IndexLocked, IndexUnavailable, InvalidRequest, NotFound
from core.settings import QdrantSettings
from core.types import Chunk, FusionSpec, ScoredChunk, SearchFilters, SparseVector
from retrieval.embedder_guard import check_embedder
from retrieval.index import (
    DENSE,
    INFO_FIELDS,
    KEYWORD_FIELDS,
    SPARSE,
    STATE_FIELDS,
    CollectionStats,
    DocumentInfo,
    DocumentPage,
    DocumentState,
    IndexPoint,
    Ranked,
    chunk_of,
    chunk_payload,
    chunks_in_order,
    directory_bytes,
    effective_mode,
    scored_chunks,
    tag_payload,
    vectors_to_fetch,
)
from retrieval.versions import ABSENT, VERSION_POINT_ID, VersionTokens, read_token, version_payload

T = TypeVar("T")
EMBEDDER_KEY = "ragqa_embedder"  # in the collection's metadata: the writer's ``Embedder.identity``


def to_qdrant_filter(filters: SearchFilters | None, doc_id: str | None = None) -> models.Filter | None:
    must: list[models.Condition] = []
    should: list[models.Condition] = []
    if doc_id is not None:
        must.append(models.FieldCondition(key="doc_id", match=models.MatchValue(value=doc_id)))
    if filters is not None:
        if filters.doc_ids:
            must.append(models.FieldCondition(key="doc_id", match=models.MatchAny(any=list(filters.doc_ids))))
        if filters.source_prefix:
            # A true prefix match. (MatchText tokenizes: "/docs/gu" found nothing and "/docs/guide"
            # also matched "/x/guide/docs/a.txt".)
            must.append(models.FieldCondition(key="source", match=models.MatchPrefix(prefix=filters.source_prefix)))
        for key, value in filters.tags_all:
            must.append(models.FieldCondition(key="tag_pairs", match=models.MatchValue(value=f"{key}={value}")))
        if filters.tags_any:
            pairs = [f"{k}={v}" for k, v in filters.tags_any]
            should.append(models.FieldCondition(key="tag_pairs", match=models.MatchAny(any=pairs)))
        if filters.ingested_after or filters.ingested_before:
            must.append(models.FieldCondition(key="ingested_ts", range=models.Range(
                gte=filters.ingested_after.timestamp() if filters.ingested_after else None,
                lte=filters.ingested_before.timestamp() if filters.ingested_before else None,
            )))
    if not must and not should:
        return None
    return models.Filter(must=must or None, should=should or None)


class QdrantClientIndex:
    """VectorIndex over qdrant-client. Local mode admits one process per folder.

    ``version_ttl_s`` bounds how long a version token read from a server is trusted (a write by
    another process is seen at most that late); this index's own writes are seen at once.
    """

    def __init__(self, client: QdrantClient, path: Path | None = None, is_server: bool = False,
                 version_ttl_s: float = 1.0) -> None:
        self._client = client
        self._path = path
        self._is_server = is_server
        # collection -> (dense size, embedder record), once read or created
        self._known: dict[str, tuple[int, str | None]] = {}
        self._versions = VersionTokens(self._read_version, self._write_version,
                                       ttl_s=version_ttl_s if is_server else None)

    @classmethod
    def for_local(cls, path: Path) -> QdrantClientIndex:
        path.mkdir(parents=True, exist_ok=True)
        try:
            client = QdrantClient(path=str(path))
        except RuntimeError as exc:
            if "already accessed" in str(exc):
                raise IndexLocked(
                    f"the embedded Qdrant store at {path} is in use by another process; stop it, "
                    "or run a Qdrant server and set RAGQA_QDRANT__URL"
                ) from exc
            raise IndexUnavailable(f"cannot open the embedded Qdrant store at {path}: {exc}") from exc
        return cls(client, path=path)

    @classmethod
    def for_server(cls, settings: QdrantSettings) -> QdrantClientIndex:
        key = settings.api_key.get_secret_value() if settings.api_key else None
        client = QdrantClient(url=settings.url, api_key=key, timeout=int(settings.timeout_s))
        return cls(client, is_server=True, version_ttl_s=settings.version_ttl_s)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (ResponseHandlingException, ConnectionError, TimeoutError) as exc:
            raise IndexUnavailable(f"Qdrant unavailable while trying to {what}: {exc}") from exc
        except UnexpectedResponse as exc:
            if exc.status_code == 404:
                raise NotFound(f"{what}: not found ({exc.reason_phrase})") from exc
            raise IndexUnavailable(f"Qdrant error while trying to {what}: {exc}") from exc
        except ValueError as exc:
            # Local mode reports a missing collection as ValueError("Collection x not found"), where a
            # server answers 404.
            if str(exc).startswith("Collection ") and str(exc).endswith(" not found"):
                raise NotFound(f"{what}: {exc}") from exc
            raise

    # -- collections ------------------------------------------------------------------------

    def collection_exists(self, name: str) -> bool:
        return name in self._known or self._call("check a collection", lambda: self._client.collection_exists(name))

    def list_collections(self) -> list[str]:
        response = self._call("list collections", self._client.get_collections)
        return sorted(c.name for c in response.collections)

    def drop_collection(self, name: str) -> None:
        self._call("drop a collection", lambda: self._client.delete_collection(name))
        self._known.pop(name, None)
        self._versions.set(name, ABSENT)

    def ensure_collection(self, name: str, dense_size: int, embedder: str | None = None) -> None:
        if self.collection_exists(name):
            existing, recorded = self._known.get(name) or self._describe(name)
            if existing != dense_size:
                raise CollectionMismatch(
                    f"collection {name!r} holds {existing}-dimensional vectors but the embedder makes "
                    f"{dense_size}: use another --collection, or delete this one"
                )
            check_embedder(name, recorded, embedder)
        else:
            recorded = embedder
            self._call("create a collection", lambda: self._client.create_collection(
                name,
                vectors_config={DENSE: models.VectorParams(size=dense_size, distance=models.Distance.COSINE)},
                sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
                metadata={EMBEDDER_KEY: embedder} if embedder is not None else None,
            ))
            if self._is_server:
                for field in KEYWORD_FIELDS:
                    # `source` is indexed for prefix matching too (SearchFilters.source_prefix).
                    schema = (models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, prefix=True)
                              if field == "source" else models.PayloadSchemaType.KEYWORD)
                    self._call("index a payload field", partial(self._client.create_payload_index, name, field, schema))
                self._call("index a payload field", lambda: self._client.create_payload_index(
                    name, "ingested_ts", models.PayloadSchemaType.FLOAT))
            self._versions.bump(name)  # born versioned: a re-created collection never reuses an old token
        self._known[name] = (dense_size, recorded)

    def collection_embedder(self, name: str) -> str | None:
        if name not in self._known:
            try:
                self._known[name] = self._describe(name)
            except NotFound:
                return None  # not remembered: the collection may be made later
        return self._known[name][1]

    def _describe(self, name: str) -> tuple[int, str | None]:
        """The collection's dense size and embedder record, as the engine has them."""
        info = self._call("read a collection", lambda: self._client.get_collection(name))
        vectors = info.config.params.vectors
        if not (isinstance(vectors, dict) and DENSE in vectors):
            raise CollectionMismatch(f"collection {name!r} was not made by ragqa (no {DENSE!r} vector)")
        recorded = (info.config.metadata or {}).get(EMBEDDER_KEY)
        return int(vectors[DENSE].size), str(recorded) if recorded is not None else None

    # -- writes ---------------------------------------------------------------------------

    def upsert(self, collection: str, points: Sequence[IndexPoint]) -> None:
        structs = [
            models.PointStruct(
                id=p.chunk.chunk_id,
                vector={DENSE: p.dense.tolist(),
                        SPARSE: models.SparseVector(indices=p.sparse.indices, values=p.sparse.values)},
                payload=chunk_payload(p),
            )
            for p in points
        ]
        if not structs:
            return
        with self._versions.writing(collection):
            self._call("write points", lambda: self._client.upsert(collection, structs, wait=True))

    def delete_stale(self, collection: str, doc_id: str, keep_ids: Sequence[str]) -> int:
        flt = to_qdrant_filter(None, doc_id=doc_id)
        assert flt is not None
        if keep_ids:
            flt.must_not = [models.HasIdCondition(has_id=list(keep_ids))]
        return self._delete(collection, flt)

    def delete_document(self, collection: str, doc_id: str) -> int:
        flt = to_qdrant_filter(None, doc_id=doc_id)
        assert flt is not None
        return self._delete(collection, flt)

    def set_document_tags(self, collection: str, doc_id: str, tags: dict[str, str]) -> int:
        flt = to_qdrant_filter(None, doc_id=doc_id)
        assert flt is not None
        points = self._call("count points", lambda: self._client.count(collection, count_filter=flt, exact=True)).count
        if points:
            with self._versions.writing(collection):
                self._call("write tags", lambda: self._client.set_payload(
                    collection, tag_payload(tags), points=models.FilterSelector(filter=flt), wait=True))
        return points

    def _delete(self, collection: str, flt: models.Filter) -> int:
        stale = self._call("count points", lambda: self._client.count(collection, count_filter=flt, exact=True)).count
        if stale:
            selector = models.FilterSelector(filter=flt)
            with self._versions.writing(collection):
                self._call("delete points", lambda: self._client.delete(collection, selector, wait=True))
        return stale

    # -- the version token ----------------------------------------------------------------

    def version(self, collection: str) -> str:
        return self._versions.get(collection)

    def cached_version(self, collection: str) -> str | None:
        return self._versions.cached(collection)

    def _read_version(self, collection: str) -> str:
        return read_token(lambda: self._version_point(collection, with_payload=True))

    def _version_point(self, collection: str, with_payload: bool) -> list[models.Record]:
        return self._call("read the index version", lambda: self._client.retrieve(
            collection, [VERSION_POINT_ID], with_payload=with_payload, with_vectors=False))

    def _write_version(self, collection: str, token: str) -> None:
        point = models.PointStruct(id=VERSION_POINT_ID, vector={}, payload=version_payload(token))
        self._call("write the index version", lambda: self._client.upsert(collection, [point], wait=True))

    # -- reads ----------------------------------------------------------------------------

    def document_state(self, collection: str, doc_id: str, content_hash: str, pipeline: str) -> DocumentState:
        flt = to_qdrant_filter(None, doc_id=doc_id)
        points = self._count(collection, flt)
        if points == 0:
            return DocumentState(0, None, None, 0, 0)
        records, _ = self._call("read points", lambda: self._client.scroll(
            collection, scroll_filter=flt, limit=1, with_payload=list(STATE_FIELDS)))
        payload = records[0].payload or {}
        same = models.Filter(must=[
            *(flt.must if flt and isinstance(flt.must, list) else []),
            models.FieldCondition(key="content_hash", match=models.MatchValue(value=content_hash)),
            models.FieldCondition(key="pipeline", match=models.MatchValue(value=pipeline)),
        ])
        return DocumentState.from_payload(points, payload, self._count(collection, same))

    def _count(self, collection: str, flt: models.Filter | None) -> int:
        return self._call("count points", lambda: self._client.count(collection, count_filter=flt, exact=True)).count

    def count(self, collection: str, filters: SearchFilters | None = None) -> int:
        flt = to_qdrant_filter(filters)
        # Every filter needs a field the version point lacks; without one, take it off the total.
        return self._count(collection, flt) if flt is not None else self._count_chunks(collection)

    def _count_chunks(self, collection: str) -> int:
        return self._count(collection, None) - len(self._version_point(collection, with_payload=False))

    def doc_ids_for_source(self, collection: str, source: str) -> list[str]:
        flt = models.Filter(must=[models.FieldCondition(key="source", match=models.MatchValue(value=source))])
        return sorted(self._distinct_doc_ids(collection, flt))

    def _distinct_doc_ids(self, collection: str, flt: models.Filter | None) -> set[str]:
        seen: set[str] = set()
        offset: Any = None
        while True:
            records, offset = self._scroll_page(collection, flt, offset)
            # Chunks only: the version point has no doc_id.
            seen.update(str(r.payload["doc_id"]) for r in records if r.payload and "doc_id" in r.payload)
            if offset is None:
                return seen

    def _scroll_page(self, collection: str, flt: models.Filter | None, offset: Any) -> tuple[list[Any], Any]:
        return self._call("scroll points", lambda: self._client.scroll(
            collection, scroll_filter=flt, limit=1024, offset=offset, with_payload=["doc_id"]))

    def stats(self, collection: str) -> CollectionStats:
        if not self.collection_exists(collection):
            raise NotFound(f"collection {collection!r} does not exist")
        return CollectionStats(collection, len(self._distinct_doc_ids(collection, None)),
                               self._count_chunks(collection), self._describe(collection)[0])

    def chunks_by_ordinal(self, collection: str, doc_id: str, ordinals: Sequence[int]) -> list[Chunk]:
        if not ordinals:
            return []  # a scroll of limit 0 is an error
        flt = models.Filter(must=[
            models.FieldCondition(key="doc_id", match=models.MatchValue(value=doc_id)),
            models.FieldCondition(key="ordinal", match=models.MatchAny(any=list(ordinals))),
        ])
        records, _ = self._call("read points", lambda: self._client.scroll(
            collection, scroll_filter=flt, limit=len(ordinals), with_payload=True))
        return chunks_in_order(records)

    def list_documents(self, collection: str, filters: SearchFilters | None = None, offset: int = 0,
                       limit: int = 50) -> DocumentPage:
        doc_ids = sorted(self._distinct_doc_ids(collection, to_qdrant_filter(filters)))
        documents = []
        for doc_id in doc_ids[offset:offset + limit]:
            records, _ = self._call("read a document", lambda d=doc_id: self._client.scroll(  # type: ignore[misc]
                collection, scroll_filter=to_qdrant_filter(None, doc_id=d), limit=1, with_payload=list(INFO_FIELDS)))
            if records:
                documents.append(DocumentInfo.from_payload(records[0].payload or {}))
        return DocumentPage(len(doc_ids), documents)

    def document_chunks(self, collection: str, doc_id: str) -> list[Chunk]:
        flt = to_qdrant_filter(None, doc_id=doc_id)
        records: list[Any] = []
        offset: Any = None
        while True:
            page, offset = self._call("read a document", lambda o=offset: self._client.scroll(  # type: ignore[misc]
                collection, scroll_filter=flt, limit=1024, offset=o, with_payload=True))
            records.extend(page)
            if offset is None:
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
        flt = to_qdrant_filter(filters)
        sparse_query = models.SparseVector(indices=sparse.indices, values=sparse.values) if sparse else None
        dense_query = dense.tolist() if dense is not None else None
        mode = effective_mode(fusion.mode, dense is not None, sparse is not None)
        kwargs: dict[str, Any]
        if mode == "dense":
            kwargs = {"query": dense_query, "using": DENSE}
        elif mode == "sparse":
            kwargs = {"query": sparse_query, "using": SPARSE}
        else:
            fused: models.Query
            if mode == "rrf":
                weights = [fusion.dense_weight, fusion.sparse_weight] if fusion.weighted else None
                fused = models.RrfQuery(rrf=models.Rrf(k=fusion.rrf_k, weights=weights))
            else:
                fused = models.FusionQuery(fusion=models.Fusion.DBSF)
            kwargs = {
                "prefetch": [
                    models.Prefetch(query=dense_query, using=DENSE, limit=candidates, filter=flt),
                    models.Prefetch(query=sparse_query, using=SPARSE, limit=candidates, filter=flt),
                ],
                "query": fused,
            }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # local mode's "large collection" advice
            response = self._call("search", lambda: self._client.query_points(
                collection, query_filter=flt, limit=limit, with_payload=True,
                with_vectors=vectors_to_fetch(mode, dense), **kwargs))
        return scored_chunks(response.points, mode, dense)

    def ranked(self, collection: str, dense: npt.NDArray[np.float32] | None, sparse: SparseVector | None,
               limit: int, filters: SearchFilters | None = None) -> list[Ranked]:
        if dense is not None:
            kwargs: dict[str, Any] = {"query": dense.tolist(), "using": DENSE}
        elif sparse is not None:
            kwargs = {"query": models.SparseVector(indices=sparse.indices, values=sparse.values), "using": SPARSE}
        else:
            raise InvalidRequest("a search needs a dense or a sparse query vector")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # local mode's "large collection" advice
            response = self._call("search", lambda: self._client.query_points(
                collection, query_filter=to_qdrant_filter(filters), limit=limit, with_payload=False,
                with_vectors=False, **kwargs))
        return [Ranked(str(point.id), float(point.score)) for point in response.points]

    def fetch(self, collection: str, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        if not chunk_ids:
            return {}
        records = self._call("read points", lambda: self._client.retrieve(
            collection, list(chunk_ids), with_payload=True, with_vectors=False))
        return {str(record.id): chunk_of(record) for record in records}

    def optimize(self, collection: str | None = None) -> None:
        """Nothing to do: a server optimizes in the background, local mode has no index to build."""

    def storage_bytes(self) -> int | None:
        return directory_bytes(self._path) if self._path else None

    def close(self) -> None:
        self._client.close()
