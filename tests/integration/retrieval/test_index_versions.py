"""The index owns its version: every write through any backend moves the token stored in the
collection, and the reserved point that holds it never shows as a chunk.

Each test runs once per embedded backend (Qdrant Edge, qdrant-client local mode), on a fresh store
holding the corpus of corpus.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.types import FusionMode, FusionSpec, SearchFilters
from retrieval.index import VectorIndex
from retrieval.versions import ABSENT, UNVERSIONED, VERSION_POINT_ID
from tests.integration.retrieval.corpus import (
    COLLECTION,
    DIM,
    DOCS,
    ENCODER,
    TOTAL_CHUNKS,
    open_backend,
    open_backend_code,
    points_for,
    run_python,
    topic_vector,
)

pytestmark = pytest.mark.integration

BAKING = DOCS["baking"]


def test_every_write_moves_the_version_and_nothing_else_does(index: VectorIndex) -> None:
    seen = [index.version(COLLECTION)]
    assert seen[0] not in (ABSENT, UNVERSIONED)

    def moved() -> bool:
        token = index.version(COLLECTION)
        fresh = token not in seen
        seen.append(token)
        return fresh

    index.upsert(COLLECTION, points_for("animals"))
    assert moved()
    new_points = points_for("baking", ("Rye bread keeps for a week.",), version=2, content_hash="v2")
    index.upsert(COLLECTION, new_points)
    assert moved()
    assert index.delete_stale(COLLECTION, BAKING.doc_id, [p.chunk.chunk_id for p in new_points]) == 3
    assert moved()
    assert index.delete_document(COLLECTION, BAKING.doc_id) == 1
    assert moved()

    # Writes that change nothing, and reads, leave it alone (cached answers stay valid).
    assert index.delete_stale(COLLECTION, DOCS["rocks"].doc_id, [p.chunk.chunk_id for p in points_for("rocks")]) == 0
    assert index.delete_document(COLLECTION, "nope.txt") == 0
    index.upsert(COLLECTION, [])
    index.ensure_collection(COLLECTION, DIM)
    index.count(COLLECTION), index.stats(COLLECTION)
    index.query(COLLECTION, topic_vector("rocks"), None, FusionSpec("dense"), 3)
    assert index.version(COLLECTION) == seen[-1]

    index.drop_collection(COLLECTION)
    assert index.version(COLLECTION) == ABSENT
    index.ensure_collection(COLLECTION, DIM)  # the same name again: a token it never had
    assert moved() and seen[-1] not in (ABSENT, UNVERSIONED)


def test_a_missing_collection_is_absent(index: VectorIndex) -> None:
    assert index.version("other") == ABSENT
    index.ensure_collection("other", DIM)
    assert index.version("other") not in (ABSENT, UNVERSIONED, index.version(COLLECTION))


def test_the_version_is_stored_with_the_index(index: VectorIndex, backend: str, store: Path) -> None:
    """Another process opening the store reads the token; its writes move it for the next opener."""
    token = index.version(COLLECTION)
    index.close()
    result = run_python(
        f"from pathlib import Path\n{open_backend_code(backend, store)}"
        f"print(index.version({COLLECTION!r}))\n"
        f"index.delete_document({COLLECTION!r}, {BAKING.doc_id!r})\n"
        f"print(index.version({COLLECTION!r}))\n"
        "index.close()\n"
    )
    assert result.returncode == 0, result.stderr
    read_there, after_delete = result.stdout.split()
    assert read_there == token and after_delete != token
    reopened = open_backend(backend, store)
    try:
        assert reopened.cached_version(COLLECTION) is None  # nothing known before it is read
        assert reopened.version(COLLECTION) == after_delete
        assert reopened.cached_version(COLLECTION) == after_delete  # an embedded store is this process's own
    finally:
        reopened.close()


@pytest.mark.parametrize("mode", ["dense", "sparse", "rrf", "dbsf"])
def test_the_version_point_is_never_a_chunk(index: VectorIndex, mode: FusionMode) -> None:
    index.upsert(COLLECTION, points_for("animals"))  # one more move: the point exists and was rewritten
    everything = TOTAL_CHUNKS + 5
    for optimized in (False, True):
        hits = index.query(COLLECTION, topic_vector("rocks") if mode != "sparse" else None,
                           ENCODER.encode_query("magma bread kangaroos") if mode != "dense" else None,
                           FusionSpec(mode), everything)
        assert VERSION_POINT_ID not in {h.chunk.chunk_id for h in hits}
        assert all(h.chunk.doc_id for h in hits)
        assert index.count(COLLECTION) == TOTAL_CHUNKS
        stats = index.stats(COLLECTION)
        assert (stats.documents, stats.chunks) == (len(DOCS), TOTAL_CHUNKS)
        assert index.count(COLLECTION, SearchFilters()) == TOTAL_CHUNKS
        assert index.count(COLLECTION, SearchFilters(tags_any=(("lang", "en"), ("lang", "de")))) == TOTAL_CHUNKS
        if not optimized:
            index.optimize()  # type: ignore[attr-defined]  # HNSW graphs and vacuum: still not a chunk


def test_a_collection_from_before_versions_gets_one_on_its_next_write(index: VectorIndex, backend: str,
                                                                       store: Path) -> None:
    """Stores written by an older ragqa have no version point: ``UNVERSIONED`` until the next write."""
    index.close()
    if backend == "edge":
        removal = ("from qdrant_edge import EdgeShard, UpdateOperation\n"
                   f"shard = EdgeShard.load({str(store / COLLECTION)!r})\n"
                   f"shard.update(UpdateOperation.delete_points([{VERSION_POINT_ID!r}]))\n"
                   "shard.flush()\nshard.close()\n")
    else:
        removal = ("from qdrant_client import QdrantClient, models\n"
                   f"client = QdrantClient(path={str(store)!r})\n"
                   f"client.delete({COLLECTION!r}, models.PointIdsList(points=[{VERSION_POINT_ID!r}]))\n"
                   "client.close()\n")
    assert run_python(removal).returncode == 0
    legacy = open_backend(backend, store)
    try:
        assert legacy.version(COLLECTION) == UNVERSIONED
        assert legacy.count(COLLECTION) == TOTAL_CHUNKS
        legacy.delete_document(COLLECTION, BAKING.doc_id)
        assert legacy.version(COLLECTION) not in (ABSENT, UNVERSIONED)
        assert legacy.count(COLLECTION) == TOTAL_CHUNKS - 3
    finally:
        legacy.close()
