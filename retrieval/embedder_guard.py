"""Which embedder wrote a collection, and the error when another one tries to write or query it.

Vectors of one embedder are not those of another (another model, the same model computed by another
runtime, or the same weights derived by another int8 recipe: all-MiniLM-L6-v2 computed in int8 on
ONNX lands at cosine ~0.995 of torch fp32, not on it), so a collection records the embedder's
``identity`` when it is created (``VectorIndex.ensure_collection(..., embedder=...)``):
``model/runtime`` or, for a model derived here, ``model/runtime/recipe``. Ingest into it with another
embedder is refused by the index; the query side calls ``check_query_embedder`` before searching.
Collections made before the record existed have none and are accepted by everyone.

Example::

    check_query_embedder(index, "docs", embedder)   # raises CollectionMismatch on a mismatch
"""

from __future__ import annotations

from core.errors import CollectionMismatch
from core.protocols import Embedder
from retrieval.index import IndexReader

# Records written before the int8 recipe joined the identity name the runtime only. They were written
# by the recipe in use from the record's introduction until then (the SmoothQuant one; its predecessor
# lived for an hour and a half on the day records began), so they read as that recipe's.
LEGACY_RECORDS = {
    "all-MiniLM-L6-v2/onnx-int8": "all-MiniLM-L6-v2/onnx-int8/smooth0.8-dynamic-qint8-per-channel-constb-v2",
}


def canonical(identity: str) -> str:
    """The identity a record means (a record from before the recipe joined it: that recipe's)."""
    return LEGACY_RECORDS.get(identity, identity)


def check_embedder(collection: str, recorded: str | None, current: str | None) -> None:
    """Raise unless ``current`` may use a collection whose record is ``recorded`` (None: no record)."""
    if recorded is not None and current is not None and canonical(recorded) != canonical(current):
        raise embedder_mismatch(collection, recorded, current)


def check_query_embedder(index: IndexReader, collection: str, embedder: Embedder) -> None:
    """Raise ``CollectionMismatch`` when ``collection`` was written by another embedder than ``embedder``.

    Cheap enough for every query: the index caches the record after the first read. A collection
    that does not exist passes (the search itself reports it).
    """
    check_embedder(collection, index.collection_embedder(collection), embedder.identity)


def embedder_mismatch(collection: str, recorded: str, current: str) -> CollectionMismatch:
    model, _, rest = canonical(recorded).partition("/")
    backend, _, recipe = rest.partition("/")
    current_model, _, current_rest = canonical(current).partition("/")
    current_backend, _, _ = current_rest.partition("/")
    if backend and model == current_model and backend == current_backend:
        use_it = (f"it was derived by the int8 recipe {recipe or '(none)'!r}, which this version no longer "
                  "makes")
    elif backend and model == current_model:
        use_it = f"set RAGQA_EMBEDDING__BACKEND={backend} to use it"
    else:
        use_it = "configure that embedder (RAGQA_EMBEDDING__MODEL_PATH, RAGQA_EMBEDDING__BACKEND) to use it"
    return CollectionMismatch(
        f"collection {collection!r} was written by the embedder {recorded}, but this process embeds with "
        f"{current}: {use_it}; or rebuild it with this embedder (`ragqa collection reindex {collection}`), "
        "or ingest into another --collection"
    )
