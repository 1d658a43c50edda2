"""The mapping both backends share: engine points and hits as ``Chunk`` and ``ScoredChunk``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from core.errors import NotFound
from core.types import Chunk, SparseVector
from retrieval.index import (
    DENSE,
    DocumentState,
    IndexPoint,
    chunk_of,
    chunk_payload,
    chunks_in_order,
    scored_chunks,
    vectors_to_fetch,
)
from retrieval.versions import ABSENT, UNVERSIONED, read_token, version_payload


@dataclass
class Hit:
    """A point as an engine returns it (the fields the two engines' record and hit types share)."""

    id: Any
    payload: dict[str, Any] | None
    score: float = 0.0
    vector: Any = None


def stored(ordinal: int) -> dict[str, Any]:
    chunk = Chunk(f"c{ordinal}", "a.txt", ordinal, f"text {ordinal}", 0, 6, title="A", source="/d/a.txt",
                  content_hash="h", tags={"team": "x"}, ingested_at=datetime(2024, 1, 2, tzinfo=UTC))
    return chunk_payload(IndexPoint(chunk, np.zeros(2, dtype=np.float32), SparseVector([], []), 3, "p"))


def test_a_point_round_trips_through_its_payload() -> None:
    chunk = chunk_of(Hit(7, stored(1)))
    assert chunk.chunk_id == "7"  # engines may hand back int ids
    assert (chunk.doc_id, chunk.ordinal, chunk.text, chunk.tags) == ("a.txt", 1, "text 1", {"team": "x"})
    assert chunk.ingested_at == datetime(2024, 1, 2, tzinfo=UTC)


def test_chunks_come_back_in_ordinal_order() -> None:
    assert [c.ordinal for c in chunks_in_order([Hit("b", stored(2)), Hit("a", stored(0)), Hit("c", stored(1))])] \
        == [0, 1, 2]


@pytest.mark.parametrize(("mode", "dense", "fetch"), [
    ("dense", True, False), ("rrf", True, [DENSE]), ("dbsf", True, [DENSE]), ("sparse", True, [DENSE]),
    ("sparse", False, False), ("rrf", False, False),
])
def test_vectors_are_fetched_only_to_score_a_dense_query_the_mode_does_not(mode: Any, dense: bool, fetch: Any) -> None:
    assert vectors_to_fetch(mode, np.ones(2, dtype=np.float32) if dense else None) == fetch


def test_hits_carry_their_cosine_to_the_dense_query() -> None:
    query = np.array([0.6, 0.8], dtype=np.float32)
    dense_hit = Hit("a", stored(0), score=0.9)
    (only,) = scored_chunks([dense_hit], "dense", query)
    assert (only.score, only.dense_score) == (pytest.approx(0.9), pytest.approx(0.9))  # the score is the cosine
    fused = scored_chunks([Hit("a", stored(0), score=0.5, vector={DENSE: [1.0, 0.0]}),
                           Hit("b", stored(1), score=0.4, vector=None)], "rrf", query)
    assert [h.score for h in fused] == [0.5, pytest.approx(0.4)]
    assert fused[0].dense_score == pytest.approx(0.6)
    assert fused[1].dense_score is None  # no stored vector came back
    assert scored_chunks([Hit("a", stored(0), score=0.5)], "sparse", None)[0].dense_score is None


def test_document_state_reads_its_fields_from_one_payload() -> None:
    state = DocumentState.from_payload(3, stored(0), 3)
    assert (state.content_hash, state.pipeline, state.chunk_count, state.complete) == ("h", "p", 3, True)
    assert DocumentState.from_payload(2, {}, 0) == DocumentState(2, None, None, 0, 0)


def test_the_version_token_is_read_from_the_reserved_point() -> None:
    assert read_token(lambda: [Hit("v", version_payload("t1"))]) == "t1"
    assert read_token(lambda: []) == UNVERSIONED  # written before versions existed

    def missing() -> list[Hit]:
        raise NotFound("collection 'docs' does not exist")

    assert read_token(missing) == ABSENT
