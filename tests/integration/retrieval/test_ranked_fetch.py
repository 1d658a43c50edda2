"""The lean search path on every embedded backend: ids and scores first (``ranked``), chunks by id
(``fetch``), agreeing with the full ``query``."""

from __future__ import annotations

import pytest

from core.errors import InvalidRequest
from core.types import FusionSpec, SearchFilters
from retrieval.index import VectorIndex
from tests.integration.retrieval.corpus import COLLECTION, DOCS, ENCODER, topic_vector

pytestmark = pytest.mark.integration

VOLCANOES, ROCKS = DOCS["volcanoes"], DOCS["rocks"]


def test_ranked_dense_matches_the_full_query(corpus_index: VectorIndex) -> None:
    dense = topic_vector("volcanoes")
    ranked = corpus_index.ranked(COLLECTION, dense, None, 3)
    full = corpus_index.query(COLLECTION, dense, None, FusionSpec("dense"), 3)
    assert [r.chunk_id for r in ranked] == [h.chunk.chunk_id for h in full]
    assert [r.score for r in ranked] == pytest.approx([h.score for h in full], abs=1e-6)


def test_ranked_sparse_and_filters(corpus_index: VectorIndex) -> None:
    sparse = ENCODER.encode_query("magma")
    ranked = corpus_index.ranked(COLLECTION, None, sparse, 5)
    full = corpus_index.query(COLLECTION, None, sparse, FusionSpec("sparse"), 5)
    assert [r.chunk_id for r in ranked] == [h.chunk.chunk_id for h in full]
    only_rocks = corpus_index.ranked(COLLECTION, None, sparse, 5, SearchFilters(doc_ids=(ROCKS.doc_id,)))
    assert {corpus_index.fetch(COLLECTION, [r.chunk_id])[r.chunk_id].doc_id for r in only_rocks} == {ROCKS.doc_id}


def test_ranked_needs_a_query_vector(corpus_index: VectorIndex) -> None:
    with pytest.raises(InvalidRequest):
        corpus_index.ranked(COLLECTION, None, None, 3)


def test_fetch_returns_the_stored_chunks_and_skips_unknown_ids(corpus_index: VectorIndex) -> None:
    hits = corpus_index.query(COLLECTION, topic_vector("volcanoes"), None, FusionSpec("dense"), 2)
    missing = "00000000-0000-4000-8000-0000000000ff"
    fetched = corpus_index.fetch(COLLECTION, [h.chunk.chunk_id for h in hits] + [missing])
    assert set(fetched) == {h.chunk.chunk_id for h in hits}
    for hit in hits:
        assert fetched[hit.chunk.chunk_id] == hit.chunk
    assert corpus_index.fetch(COLLECTION, []) == {}
