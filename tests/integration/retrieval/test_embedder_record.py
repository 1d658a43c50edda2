"""Collections remember the embedder that wrote them, on both embedded backends, across reopening.

Identities are plain strings here: the index records and compares them, whatever computed them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.errors import CollectionMismatch
from retrieval.edge_store import MANIFEST
from retrieval.embedder_guard import check_query_embedder
from retrieval.index import VectorIndex
from retrieval.qdrant_client_index import QdrantClientIndex
from tests.integration.retrieval.corpus import COLLECTION, DIM, open_backend, points_for

pytestmark = pytest.mark.integration

INT8 = "all-MiniLM-L6-v2/onnx-int8"
FP32 = "all-MiniLM-L6-v2/sentence-transformers"


class Named:
    """Just the part of an embedder the query check reads."""

    def __init__(self, identity: str) -> None:
        self.identity = identity


def test_the_writer_is_recorded_and_survives_reopening(backend: str, store: Path) -> None:
    index = open_backend(backend, store)
    try:
        index.ensure_collection(COLLECTION, DIM, embedder=INT8)
        index.upsert(COLLECTION, points_for("animals"))
        assert index.collection_embedder(COLLECTION) == INT8
        index.ensure_collection(COLLECTION, DIM, embedder=INT8)  # the same writer again: fine
    finally:
        index.close()
    reopened = open_backend(backend, store)
    try:
        assert reopened.collection_embedder(COLLECTION) == INT8
        reopened.ensure_collection(COLLECTION, DIM, embedder=INT8)
        assert reopened.count(COLLECTION) == 3
    finally:
        reopened.close()


def test_another_embedder_is_refused_with_the_fix(backend: str, store: Path) -> None:
    index = open_backend(backend, store)
    try:
        index.ensure_collection(COLLECTION, DIM, embedder=FP32)
    finally:
        index.close()
    reopened = open_backend(backend, store)  # the record comes from disk, not from memory
    try:
        with pytest.raises(CollectionMismatch) as refused:
            reopened.ensure_collection(COLLECTION, DIM, embedder=INT8)
        message = refused.value.message
        assert FP32 in message and INT8 in message
        assert "RAGQA_EMBEDDING__BACKEND=sentence-transformers" in message and "--collection" in message
        with pytest.raises(CollectionMismatch, match="RAGQA_EMBEDDING__BACKEND=sentence-transformers"):
            check_query_embedder(reopened, COLLECTION, Named(INT8))  # type: ignore[arg-type]
        check_query_embedder(reopened, COLLECTION, Named(FP32))  # type: ignore[arg-type]
        with pytest.raises(CollectionMismatch, match="RAGQA_EMBEDDING__MODEL_PATH"):
            check_query_embedder(reopened, COLLECTION, Named("bge-small/onnx-int8"))  # type: ignore[arg-type]
    finally:
        reopened.close()


def test_a_collection_without_a_record_accepts_every_embedder(backend: str, store: Path) -> None:
    """Collections made before the record existed keep working, and are not given one."""
    index = open_backend(backend, store)
    try:
        index.ensure_collection(COLLECTION, DIM)  # as ragqa did before: no embedder
        index.upsert(COLLECTION, points_for("animals"))
    finally:
        index.close()
    if backend == "edge":  # the manifest of an older ragqa: no "embedder" key at all
        manifest = store / COLLECTION / MANIFEST
        manifest.write_text(json.dumps({"dense_size": DIM, "format": 1}), encoding="utf-8")
    for embedder in (INT8, FP32):
        reopened = open_backend(backend, store)
        try:
            assert reopened.collection_embedder(COLLECTION) is None
            reopened.ensure_collection(COLLECTION, DIM, embedder=embedder)
            check_query_embedder(reopened, COLLECTION, Named(embedder))  # type: ignore[arg-type]
            assert reopened.collection_embedder(COLLECTION) is None  # nothing recorded after the fact
            assert reopened.count(COLLECTION) == 3
        finally:
            reopened.close()


def test_a_missing_collection_has_no_record_until_it_is_made(index: VectorIndex) -> None:
    assert index.collection_embedder("later") is None
    check_query_embedder(index, "later", Named(INT8))  # type: ignore[arg-type]  # the search reports it
    index.ensure_collection("later", DIM, embedder=INT8)
    assert index.collection_embedder("later") == INT8


def test_a_dropped_collection_can_be_remade_by_another_embedder(backend: str, store: Path) -> None:
    index = open_backend(backend, store)
    try:
        index.ensure_collection(COLLECTION, DIM, embedder=FP32)
        assert index.collection_embedder(COLLECTION) == FP32
        index.drop_collection(COLLECTION)
        assert index.collection_embedder(COLLECTION) is None
        index.ensure_collection(COLLECTION, DIM, embedder=INT8)
        assert index.collection_embedder(COLLECTION) == INT8
    finally:
        index.close()


def test_the_record_is_read_from_the_engine_once(tmp_path: Path) -> None:
    """The query path asks on every question: after the first answer, no engine call."""
    writer = QdrantClientIndex.for_local(tmp_path / "q")
    writer.ensure_collection(COLLECTION, DIM, embedder=INT8)
    writer.close()
    index = QdrantClientIndex.for_local(tmp_path / "q")
    calls: list[str] = []
    real = index._client.get_collection

    def counting(name: str, **kwargs: Any) -> Any:
        calls.append(name)
        return real(name, **kwargs)

    index._client.get_collection = counting  # type: ignore[method-assign]
    try:
        for _ in range(50):
            assert index.collection_embedder(COLLECTION) == INT8
        assert calls == [COLLECTION]
    finally:
        index.close()
