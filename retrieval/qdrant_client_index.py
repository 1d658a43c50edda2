"""The index on qdrant-client: a Qdrant server, or local mode (embedded, exhaustive search).

Each collection holds its version token in a reserved point (``retrieval.versions``). Local mode
is one process per folder, so its tokens are kept in memory; against a server, which other
processes write too, a token is read again once it is ``version_ttl_s`` old. The embedder that
wrote a collection is in the collection's metadata (``EMBEDDER_KEY``; local mode keeps it in its
``meta.json``), read once per collection and process. The token, counts and a document's state are
read as every backend reads them (``retrieval.index_reads``); filters, requests and the document
inventory have modules of their own (``retrieval.qdrant_client_{filters,requests,inventory}``).

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

from core.errors import CollectionMismatch, IndexLocked, IndexUnavailable, NotFound
from core.settings import QdrantSettings
from core.types import Chunk, FusionSpec, ScoredChunk, SearchFilters, SparseVector
from retrieval.aliases import AliasTable, on_physical
from retrieval.embedder_guard import check_embedder
from retrieval.index import (
    DENSE,
    CollectionStats,
    IndexPoint,
    Ranked,
    chunk_of,
    chunks_in_order,
    directory_bytes,
    effective_mode,
    scored_chunks,
    tag_payload,
    vectors_to_fetch,
)
from retrieval.index_reads import IndexReads
from retrieval.qdrant_client_collections import QdrantClientCollections, ServerAddress
from retrieval.qdrant_client_filters import document_filter, match, ordinals_filter, to_qdrant_filter
from retrieval.qdrant_client_inventory import QdrantClientInventory
from retrieval.qdrant_client_requests import (
    EMBEDDER_KEY,
    PAYLOAD_INDEXES,
    collection_config,
    nearest_kwargs,
    point_struct,
    search_kwargs,
    version_struct,
)
from retrieval.versions import VERSION_POINT_ID, VersionTokens

T = TypeVar("T")


class QdrantClientIndex(QdrantClientCollections, QdrantClientInventory, IndexReads[models.Filter]):
    """VectorIndex over qdrant-client. Local mode admits one process per folder.

    ``version_ttl_s`` bounds how long a version token read from a server is trusted (a write by
    another process is seen at most that late); this index's own writes are seen at once.
    """

    def __init__(self, client: QdrantClient, path: Path | None = None, server: ServerAddress | None = None,
                 version_ttl_s: float = 1.0) -> None:
        self._client = client
        self._path = path
        self._server = server
        self._is_server = server is not None
        # physical collection -> (dense size, embedder record), once read or created
        self._known: dict[str, tuple[int, str | None]] = {}
        ttl_s = version_ttl_s if self._is_server else None
        self._versions = VersionTokens(self._read_version, self._write_version, ttl_s=ttl_s)
        self._aliases = AliasTable(self._read_aliases, ttl_s=ttl_s)

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
        return cls(client, server=ServerAddress(settings.url or "", key), version_ttl_s=settings.version_ttl_s)

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

    @on_physical
    def collection_exists(self, name: str) -> bool:
        return name in self._known or self._call("check a collection", lambda: self._client.collection_exists(name))

    @on_physical
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
            config = collection_config(dense_size, embedder)
            self._call("create a collection", lambda: self._client.create_collection(name, **config))
            if self._is_server:
                for field, schema in PAYLOAD_INDEXES:
                    self._call("index a payload field", partial(self._client.create_payload_index, name, field, schema))
            self._versions.bump(name)  # born versioned: a re-created collection never reuses an old token
        self._known[name] = (dense_size, recorded)

    @on_physical
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

    @on_physical
    def upsert(self, collection: str, points: Sequence[IndexPoint]) -> None:
        structs = [point_struct(p) for p in points]
        if not structs:
            return
        with self._versions.writing(collection):
            self._call("write points", lambda: self._client.upsert(collection, structs, wait=True))

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
            with self._versions.writing(collection):
                self._call("write tags", lambda: self._client.set_payload(
                    collection, tag_payload(tags, acl), points=models.FilterSelector(filter=flt), wait=True))
        return points

    def _delete(self, collection: str, flt: models.Filter) -> int:
        stale = self._count(collection, flt)
        if stale:
            selector = models.FilterSelector(filter=flt)
            with self._versions.writing(collection):
                self._call("delete points", lambda: self._client.delete(collection, selector, wait=True))
        return stale

    # -- the version point (``IndexReads`` reads the token through it) ----------------------

    def _version_point(self, collection: str, with_payload: bool) -> list[models.Record]:
        return self._call("read the index version", lambda: self._client.retrieve(
            collection, [VERSION_POINT_ID], with_payload=with_payload, with_vectors=False))

    def _write_version(self, collection: str, token: str) -> None:
        point = version_struct(token)
        self._call("write the index version", lambda: self._client.upsert(collection, [point], wait=True))

    # -- reads (the first four are ``IndexReads``'s primitives) ----------------------------

    def _count(self, collection: str, flt: models.Filter | None) -> int:
        return self._call("count points", lambda: self._client.count(collection, count_filter=flt, exact=True)).count

    def _filter(self, filters: SearchFilters | None) -> models.Filter | None:
        return to_qdrant_filter(filters)

    def _document_filter(self, doc_id: str, **fields: str) -> models.Filter:
        return document_filter(doc_id, *(match(key, value) for key, value in fields.items()))

    def _first_payload(self, collection: str, flt: models.Filter, fields: Sequence[str]) -> dict[str, Any] | None:
        records, _ = self._call("read points", lambda: self._client.scroll(
            collection, scroll_filter=flt, limit=1, with_payload=list(fields)))
        return (records[0].payload or {}) if records else None

    @on_physical
    def doc_ids_for_source(self, collection: str, source: str) -> list[str]:
        return sorted(self._distinct_doc_ids(collection, models.Filter(must=[match("source", source)])))

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
        physical = self.physical_name(collection)
        if not self.collection_exists(physical):
            raise NotFound(f"collection {collection!r} does not exist")
        return CollectionStats(collection, len(self._distinct_doc_ids(physical, None)),
                               self._count_chunks(physical), self._describe(physical)[0])

    @on_physical
    def chunks_by_ordinal(self, collection: str, doc_id: str, ordinals: Sequence[int]) -> list[Chunk]:
        if not ordinals:
            return []  # a scroll of limit 0 is an error
        records, _ = self._call("read points", lambda: self._client.scroll(
            collection, scroll_filter=ordinals_filter(doc_id, ordinals), limit=len(ordinals), with_payload=True))
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
        flt = to_qdrant_filter(filters)
        mode = effective_mode(fusion.mode, dense is not None, sparse is not None)
        kwargs = search_kwargs(mode, fusion, dense, sparse, candidates, flt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # local mode's "large collection" advice
            response = self._call("search", lambda: self._client.query_points(
                collection, query_filter=flt, limit=limit, with_payload=True,
                with_vectors=vectors_to_fetch(mode, dense), **kwargs))
        return scored_chunks(response.points, mode, dense)

    @on_physical
    def ranked(self, collection: str, dense: npt.NDArray[np.float32] | None, sparse: SparseVector | None,
               limit: int, filters: SearchFilters | None = None) -> list[Ranked]:
        kwargs = nearest_kwargs(dense, sparse)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # local mode's "large collection" advice
            response = self._call("search", lambda: self._client.query_points(
                collection, query_filter=to_qdrant_filter(filters), limit=limit, with_payload=False,
                with_vectors=False, **kwargs))
        return [Ranked(str(point.id), float(point.score)) for point in response.points]

    @on_physical
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
