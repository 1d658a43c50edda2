"""Names over physical collections (``retrieval.aliases``): the same contract on Qdrant Edge (an alias
file of the store) and qdrant-client local mode (Qdrant's own aliases, as a server keeps them).

Each test runs once per embedded backend, on a fresh store holding the corpus of corpus.py in a plain
collection, as every collection was before aliases.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import InvalidRequest, NotFound
from core.types import FusionSpec
from retrieval.index import VectorIndex
from retrieval.versions import ABSENT
from tests.integration.retrieval.corpus import COLLECTION, DIM, TOTAL_CHUNKS, open_backend, points_for, topic_vector

pytestmark = pytest.mark.integration
NEW = f"{COLLECTION}__v1"


def test_a_switch_moves_every_reader_and_the_version_at_once(index: VectorIndex) -> None:
    old_token = index.version(COLLECTION)
    index.ensure_collection(NEW, DIM, embedder="other-model/onnx")
    index.upsert(NEW, points_for("rocks"))
    assert index.count(COLLECTION) == TOTAL_CHUNKS  # building the new one changes nothing for readers

    index.switch_alias(COLLECTION, NEW)
    assert index.physical_name(COLLECTION) == NEW and index.aliases() == {COLLECTION: NEW}
    assert index.count(COLLECTION) == len(points_for("rocks"))
    assert {h.chunk.doc_id for h in index.query(COLLECTION, topic_vector("animals"), None, FusionSpec("dense"), 10)
            } == {"rocks.pdf"}
    assert index.collection_embedder(COLLECTION) == "other-model/onnx"
    assert index.stats(COLLECTION).name == COLLECTION and index.stats(COLLECTION).chunks == len(points_for("rocks"))
    assert index.version(COLLECTION) not in (old_token, ABSENT)  # answers cached from the old one are dead
    assert index.cached_version(COLLECTION) == index.version(NEW)
    assert index.list_collections() == [COLLECTION]  # the name, not what is behind it

    index.upsert(COLLECTION, points_for("baking"))  # writes through the name land behind it
    assert index.count(NEW) == len(points_for("rocks")) + len(points_for("baking"))


def test_the_old_collection_goes_after_the_switch_and_the_name_stays(index: VectorIndex) -> None:
    index.ensure_collection(NEW, DIM)
    index.upsert(NEW, points_for("rocks"))
    index.switch_alias(COLLECTION, NEW)
    if COLLECTION in index.list_physical():  # Edge keeps the shadowed plain collection until it is dropped
        index.drop_physical(COLLECTION)
    assert index.list_physical() == [NEW] and index.collection_exists(COLLECTION)

    second = f"{COLLECTION}__v2"
    index.ensure_collection(second, DIM)
    index.switch_alias(COLLECTION, second)  # from one physical collection to the next
    index.drop_physical(NEW)
    assert index.aliases() == {COLLECTION: second} and index.count(COLLECTION) == 0

    index.drop_collection(COLLECTION)  # the name and what is behind it
    assert index.list_physical() == [] and index.aliases() == {} and index.version(COLLECTION) == ABSENT


def test_aliases_outlive_the_process(index: VectorIndex, backend: str, store: Path) -> None:
    index.ensure_collection(NEW, DIM)
    index.upsert(NEW, points_for("rocks"))
    index.switch_alias(COLLECTION, NEW)
    index.close()
    reopened = open_backend(backend, store)
    try:
        assert reopened.aliases() == {COLLECTION: NEW} and reopened.count(COLLECTION) == len(points_for("rocks"))
    finally:
        reopened.close()


def test_a_switch_needs_a_collection_to_point_at(index: VectorIndex) -> None:
    with pytest.raises(NotFound):
        index.switch_alias(COLLECTION, "nowhere__v1")
    index.ensure_collection(NEW, DIM)
    index.switch_alias("alias", NEW)
    with pytest.raises(InvalidRequest, match="itself an alias"):
        index.switch_alias(COLLECTION, "alias")
    index.drop_physical(NEW)  # its aliases go with it: none dangles
    assert index.aliases() == {}
