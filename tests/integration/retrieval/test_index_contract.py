"""One contract for every embedded index backend: Qdrant Edge and qdrant-client local mode.

Each test runs once per backend, on a fresh store in tmp_path holding the corpus of corpus.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from core.errors import CollectionMismatch, InvalidRequest, NotFound
from core.types import FusionMode, FusionSpec, SearchFilters
from retrieval.index import VectorIndex
from tests.integration.retrieval.corpus import (
    COLLECTION,
    DIM,
    DOCS,
    ENCODER,
    PIPELINE,
    TOTAL_CHUNKS,
    chunk_id,
    load_corpus,
    open_backend,
    open_backend_code,
    points_for,
    run_python,
    topic_vector,
)

pytestmark = pytest.mark.integration

ANIMALS, VOLCANOES, BAKING, ROCKS = (DOCS[t] for t in ("animals", "volcanoes", "baking", "rocks"))
Query = tuple[FusionMode, str | None, str | None]  # mode, topic of the dense vector, words of the sparse one


def ids(index: VectorIndex, mode: FusionMode, topic: str | None, words: str | None, limit: int = 3,
        filters: SearchFilters | None = None) -> list[tuple[str, int]]:
    """(doc_id, ordinal) of the hits, best first."""
    dense = topic_vector(topic) if topic else None
    sparse = ENCODER.encode_query(words) if words else None
    hits = index.query(COLLECTION, dense, sparse, FusionSpec(mode), limit, filters=filters)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    return [(h.chunk.doc_id, h.chunk.ordinal) for h in hits]


# -- writes and document state -------------------------------------------------------------------


def test_upsert_counts_and_stats(index: VectorIndex) -> None:
    assert index.count(COLLECTION) == TOTAL_CHUNKS
    stats = index.stats(COLLECTION)
    assert (stats.name, stats.documents, stats.chunks, stats.dense_size) == (COLLECTION, 4, TOTAL_CHUNKS, DIM)
    assert index.list_collections() == [COLLECTION]
    assert index.collection_exists(COLLECTION) and not index.collection_exists("other")
    index.upsert(COLLECTION, points_for("animals"))  # the same ids again: an overwrite, not new points
    assert index.count(COLLECTION) == TOTAL_CHUNKS
    assert (index.storage_bytes() or 0) > 0


def test_replace_document_with_new_version(index: VectorIndex) -> None:
    new_text = ("Rye bread keeps for a week.", "Proof the dough overnight in the fridge.")
    new_points = points_for("baking", new_text, version=2, content_hash="v2")
    index.upsert(COLLECTION, new_points)
    assert index.count(COLLECTION, SearchFilters(doc_ids=(BAKING.doc_id,))) == 5  # both versions, briefly
    assert not index.document_state(COLLECTION, BAKING.doc_id, "v2", PIPELINE).complete

    removed = index.delete_stale(COLLECTION, BAKING.doc_id, [p.chunk.chunk_id for p in new_points])

    assert removed == 3
    state = index.document_state(COLLECTION, BAKING.doc_id, "v2", PIPELINE)
    assert (state.points, state.content_hash, state.pipeline, state.chunk_count, state.matching) == (
        2, "v2", PIPELINE, 2, 2)
    assert state.complete
    chunks = index.chunks_by_ordinal(COLLECTION, BAKING.doc_id, [0, 1])
    assert [c.text for c in chunks] == list(new_text)
    assert index.delete_stale(COLLECTION, BAKING.doc_id, [p.chunk.chunk_id for p in new_points]) == 0
    assert index.count(COLLECTION) == TOTAL_CHUNKS - 1


def test_document_state_complete_changed_incomplete_absent(index: VectorIndex) -> None:
    state = index.document_state(COLLECTION, ANIMALS.doc_id, ANIMALS.content_hash, PIPELINE)
    assert state.complete and state.points == state.matching == state.chunk_count == 3

    edited = index.document_state(COLLECTION, ANIMALS.doc_id, "another-hash", PIPELINE)
    assert (edited.points, edited.matching, edited.complete) == (3, 0, False)
    assert not index.document_state(COLLECTION, ANIMALS.doc_id, ANIMALS.content_hash, "other-pipeline").complete

    index.delete_document(COLLECTION, ROCKS.doc_id)
    index.upsert(COLLECTION, points_for("rocks")[:1])  # a crash after the first of two chunks
    partial = index.document_state(COLLECTION, ROCKS.doc_id, ROCKS.content_hash, PIPELINE)
    assert (partial.points, partial.chunk_count, partial.matching, partial.complete) == (1, 2, 1, False)

    absent = index.document_state(COLLECTION, "nothing.txt", "h", PIPELINE)
    assert (absent.points, absent.content_hash, absent.complete) == (0, None, False)


def test_delete_document(index: VectorIndex) -> None:
    assert index.delete_document(COLLECTION, VOLCANOES.doc_id) == 3
    assert index.delete_document(COLLECTION, VOLCANOES.doc_id) == 0
    assert index.count(COLLECTION) == TOTAL_CHUNKS - 3
    assert index.stats(COLLECTION).documents == 3
    assert VOLCANOES.doc_id not in {d for d, _ in ids(index, "dense", "volcanoes", None, limit=20)}


def test_doc_ids_for_source_and_chunks_by_ordinal(corpus_index: VectorIndex) -> None:
    assert corpus_index.doc_ids_for_source(COLLECTION, ANIMALS.source) == [ANIMALS.doc_id]
    assert corpus_index.doc_ids_for_source(COLLECTION, "/corpus/zoo") == []  # exact source, not a prefix

    chunks = corpus_index.chunks_by_ordinal(COLLECTION, ROCKS.doc_id, [1, 0])
    assert [c.ordinal for c in chunks] == [0, 1]
    first = chunks[0]
    assert first.chunk_id == chunk_id(ROCKS, 0)
    assert (first.text, first.source, first.page, first.title, first.tags) == (
        ROCKS.sentences[0], ROCKS.source, 4, "Rocks", ROCKS.tags)
    assert (first.start, first.end, first.content_hash) == (0, len(ROCKS.sentences[0]), ROCKS.content_hash)
    assert first.ingested_at == ROCKS.ingested_at
    assert corpus_index.chunks_by_ordinal(COLLECTION, ROCKS.doc_id, []) == []
    assert corpus_index.chunks_by_ordinal(COLLECTION, ROCKS.doc_id, [7]) == []


# -- filters -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("filters", "expected"), [
    (SearchFilters(doc_ids=(ANIMALS.doc_id, ROCKS.doc_id)), {"animals.txt": 3, "rocks.pdf": 2}),
    (SearchFilters(source_prefix="/corpus/geo"), {"volcanoes.txt": 3, "rocks.pdf": 2}),
    (SearchFilters(source_prefix="/corpus/geo/"), {"volcanoes.txt": 3}),
    (SearchFilters(source_prefix="/corpus/kitchen/bak"), {"baking.md": 3}),
    (SearchFilters(source_prefix="zoo"), {}),  # a substring that is not a prefix
    (SearchFilters(tags_any=(("topic", "food"), ("lang", "de"))), {"baking.md": 3, "rocks.pdf": 2}),
    (SearchFilters(tags_all=(("topic", "nature"), ("lang", "en"))), {"animals.txt": 3, "volcanoes.txt": 3}),
    (SearchFilters(tags_all=(("topic", "food"), ("lang", "de"))), {}),
    (SearchFilters(ingested_after=datetime(2024, 2, 1, tzinfo=UTC)),
     {"volcanoes.txt": 3, "baking.md": 3, "rocks.pdf": 2}),
    (SearchFilters(ingested_before=datetime(2024, 6, 20, tzinfo=UTC)),  # inclusive bound
     {"animals.txt": 3, "volcanoes.txt": 3, "baking.md": 3}),
    (SearchFilters(ingested_after=datetime(2024, 2, 1, tzinfo=UTC), ingested_before=datetime(2024, 7, 1, tzinfo=UTC)),
     {"volcanoes.txt": 3, "baking.md": 3}),
    (SearchFilters(doc_ids=(ANIMALS.doc_id, BAKING.doc_id, ROCKS.doc_id), tags_any=(("lang", "de"),),
                   source_prefix="/corpus/"), {"rocks.pdf": 2}),
], ids=["doc_ids", "prefix", "prefix-slash", "prefix-partial-name", "not-a-prefix", "tags_any", "tags_all",
        "tags_all-none", "after", "before", "between", "combined"])
def test_filters(corpus_index: VectorIndex, filters: SearchFilters, expected: dict[str, int]) -> None:
    assert corpus_index.count(COLLECTION, filters) == sum(expected.values())
    queries: list[Query] = [("dense", "animals", None), ("sparse", None, "magma lava sourdough koalas"),
                            ("rrf", "volcanoes", "bread granite"), ("dbsf", "rocks", "joey ash")]
    for mode, topic, words in queries:
        found = ids(corpus_index, mode, topic, words, limit=20, filters=filters)
        assert {d for d, _ in found} <= set(expected), mode
    hits = ids(corpus_index, "dense", "animals", None, limit=20, filters=filters)
    assert {d: sum(1 for h, _ in hits if h == d) for d in {h for h, _ in hits}} == expected


# -- queries -------------------------------------------------------------------------------------


def test_dense_ranks_by_cosine(corpus_index: VectorIndex) -> None:
    assert ids(corpus_index, "dense", "volcanoes", None) == [(VOLCANOES.doc_id, 0), (VOLCANOES.doc_id, 1),
                                                     (VOLCANOES.doc_id, 2)]
    top = corpus_index.query(COLLECTION, topic_vector("baking"), None, FusionSpec("dense"), 1)[0]
    assert top.score == pytest.approx(1 / np.sqrt(1 + 0.3**2), abs=1e-4)  # cosine of the hand-made vectors


def test_sparse_is_bm25_over_terms(corpus_index: VectorIndex) -> None:
    assert ids(corpus_index, "sparse", None, "lava eruption") == [(VOLCANOES.doc_id, 0)]  # no shared term, no hit
    assert set(ids(corpus_index, "sparse", None, "magma")) == {(VOLCANOES.doc_id, 2), (ROCKS.doc_id, 0)}
    # IDF: "sand" is in one chunk, "the" is a stopword; the rare term decides.
    assert ids(corpus_index, "sparse", None, "the sandstone grains", limit=1) == [(ROCKS.doc_id, 1)]


@pytest.mark.parametrize("mode", ["rrf", "dbsf"])
def test_hybrid_fuses_dense_and_sparse(corpus_index: VectorIndex, mode: FusionMode) -> None:
    # Dense alone puts koalas (ordinal 2) third; the words put it first; fused, it wins.
    assert ids(corpus_index, "dense", "animals", None)[0] == (ANIMALS.doc_id, 0)
    fused = ids(corpus_index, mode, "animals", "koalas eucalyptus sleep")
    assert fused[0] == (ANIMALS.doc_id, 2)
    assert set(fused) == {(ANIMALS.doc_id, o) for o in range(3)}


@pytest.mark.parametrize("k", [2, 60])
def test_rrf_scores_use_the_configured_constant(corpus_index: VectorIndex, k: int) -> None:
    dense = topic_vector("animals")
    hits = corpus_index.query(COLLECTION, dense, ENCODER.encode_query("koalas eucalyptus"), FusionSpec("rrf", k), 1)
    assert hits[0].score == pytest.approx(1 / (2 + k) + 1 / (0 + k))  # dense rank 3, sparse rank 1
    # Whatever the fusion, each hit reports its cosine similarity to the dense query.
    dense_only = corpus_index.query(COLLECTION, dense, None, FusionSpec("dense"), 10)
    cosine_of = {h.chunk.chunk_id: h.score for h in dense_only}
    assert hits[0].dense_score == pytest.approx(cosine_of[hits[0].chunk.chunk_id], abs=1e-5)


def test_weighted_rrf_favours_the_heavier_list(corpus_index: VectorIndex) -> None:
    dense, sparse = topic_vector("animals"), ENCODER.encode_query("koalas eucalyptus")

    def top(spec: FusionSpec) -> tuple[str, float]:
        hit = corpus_index.query(COLLECTION, dense, sparse, spec, 1)[0]
        return hit.chunk.chunk_id, hit.score

    sparse_top = corpus_index.query(COLLECTION, None, sparse, FusionSpec("sparse"), 1)[0].chunk.chunk_id
    dense_top = corpus_index.query(COLLECTION, dense, None, FusionSpec("dense"), 1)[0].chunk.chunk_id
    assert sparse_top != dense_top
    plain = top(FusionSpec("rrf", 2))
    leaning_sparse = top(FusionSpec("rrf", 2, 1.0, 3.0))
    assert leaning_sparse[0] == sparse_top and leaning_sparse[1] > plain[1]


def test_missing_vectors_fall_back_or_are_refused(corpus_index: VectorIndex) -> None:
    assert ids(corpus_index, "rrf", "baking", None) == ids(corpus_index, "dense", "baking", None)
    assert ids(corpus_index, "rrf", None, "granite") == [(ROCKS.doc_id, 0)]
    with pytest.raises(InvalidRequest):
        corpus_index.query(COLLECTION, None, None, FusionSpec("dense"), 3)


def test_optimize_keeps_results(index: VectorIndex) -> None:
    queries: list[Query] = [("dense", "rocks", None), ("sparse", None, "magma sand"),
                            ("rrf", "rocks", "cemented grains"), ("dbsf", "baking", "sourdough")]  # top 3 untied
    before = [ids(index, *query) for query in queries]
    index.optimize()  # type: ignore[attr-defined]
    assert [ids(index, *query) for query in queries] == before


# -- collections, errors, durability ------------------------------------------------------------


def test_other_dense_size_is_a_mismatch(index: VectorIndex, backend: str, store: Path) -> None:
    index.ensure_collection(COLLECTION, DIM)  # the same size again is fine
    with pytest.raises(CollectionMismatch, match="8-dimensional"):
        index.ensure_collection(COLLECTION, DIM * 2)
    index.close()
    reopened = open_backend(backend, store)
    try:
        with pytest.raises(CollectionMismatch):
            reopened.ensure_collection(COLLECTION, DIM * 2)
    finally:
        reopened.close()


def test_missing_collection_is_not_found(corpus_index: VectorIndex) -> None:
    for call in (lambda: corpus_index.count("nope"), lambda: corpus_index.stats("nope"),
                 lambda: corpus_index.query("nope", topic_vector("rocks"), None, FusionSpec("dense"), 3)):
        with pytest.raises(NotFound):
            call()


def test_drop_collection(index: VectorIndex) -> None:
    index.ensure_collection("scratch", DIM)
    index.drop_collection(COLLECTION)
    assert index.list_collections() == ["scratch"]
    assert not index.collection_exists(COLLECTION)
    with pytest.raises(NotFound):
        index.count(COLLECTION)
    index.drop_collection(COLLECTION)  # dropping what is gone is not an error
    load_corpus(index)  # and the name can be used again
    assert index.count(COLLECTION) == TOTAL_CHUNKS


def test_data_survives_close_and_reopen(index: VectorIndex, backend: str, store: Path) -> None:
    index.delete_document(COLLECTION, BAKING.doc_id)
    expected = ids(index, "dbsf", "volcanoes", "granite magma", limit=4)  # past 4, scores tie at 0
    index.close()
    reopened = open_backend(backend, store)
    try:
        assert reopened.list_collections() == [COLLECTION]
        assert reopened.count(COLLECTION) == TOTAL_CHUNKS - 3
        assert ids(reopened, "dbsf", "volcanoes", "granite magma", limit=4) == expected
    finally:
        reopened.close()


def test_second_process_gets_index_locked(index: VectorIndex, backend: str, store: Path) -> None:
    opening = "import sys\nfrom pathlib import Path\nfrom core.errors import IndexLocked\n"
    result = run_python(
        f"{opening}try:\n"
        + "".join(f"    {line}\n" for line in open_backend_code(backend, store).splitlines())
        + f"    index.count({COLLECTION!r})\n"
        "except IndexLocked as exc:\n"
        "    print(exc.code, exc.message)\n"
        "    sys.exit(3)\n"
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stdout.startswith("index_locked ")
    assert str(store) in result.stdout and "RAGQA_QDRANT__URL" in result.stdout
    index.close()  # once released, the other process gets in
    after = run_python(
        f"{opening}{open_backend_code(backend, store)}print(index.count({COLLECTION!r}))\nindex.close()\n")
    assert after.stdout.strip() == str(TOTAL_CHUNKS), after.stderr


def test_both_engines_rank_and_score_alike(tmp_path: Path) -> None:
    edge, local = open_backend("edge", tmp_path / "edge"), open_backend("local", tmp_path / "local")
    try:
        for engine in (edge, local):
            load_corpus(engine)
        # Each query's top 3 have distinct scores, so the order is defined (no ties at zero).
        queries: list[Query] = [("dense", "volcanoes", None), ("sparse", None, "magma granite sand"),
                                ("rrf", "animals", "koalas eucalyptus"), ("dbsf", "baking", "sourdough flour")]
        for mode, topic, words in queries:
            dense = topic_vector(topic) if topic else None
            sparse = ENCODER.encode_query(words) if words else None
            a, b = (engine.query(COLLECTION, dense, sparse, FusionSpec(mode), 3) for engine in (edge, local))
            assert [h.chunk.chunk_id for h in a] == [h.chunk.chunk_id for h in b], mode
            assert [h.score for h in a] == pytest.approx([h.score for h in b], rel=1e-3), mode
    finally:
        edge.close()
        local.close()


def test_set_document_tags_rewrites_the_payload_and_keeps_the_vectors(index: VectorIndex) -> None:
    doc = ANIMALS.doc_id
    version = index.version(COLLECTION)
    before = index.query(COLLECTION, topic_vector("animals"), None, FusionSpec("dense"), 3,
                         filters=SearchFilters(doc_ids=(doc,)))
    assert index.set_document_tags(COLLECTION, doc, {"team": "zoology", "year": "2026"}) == len(before)
    # A write: cached answers keyed on the version token see the new tags.
    assert index.version(COLLECTION) != version
    state = index.document_state(COLLECTION, doc, ANIMALS.content_hash, PIPELINE)
    assert state.tags == {"team": "zoology", "year": "2026"}
    tagged = index.query(COLLECTION, topic_vector("animals"), None, FusionSpec("dense"), 3,
                         filters=SearchFilters(tags_all=(("team", "zoology"),)))
    assert [h.chunk.chunk_id for h in tagged] == [h.chunk.chunk_id for h in before]
    assert [h.score for h in tagged] == pytest.approx([h.score for h in before])  # same vectors
    assert all(h.chunk.tags == {"team": "zoology", "year": "2026"} for h in tagged)
    assert index.count(COLLECTION, SearchFilters(tags_all=(("team", "zoology"),))) == len(before)
    index.set_document_tags(COLLECTION, doc, {})
    assert index.count(COLLECTION, SearchFilters(tags_all=(("team", "zoology"),))) == 0
    assert index.set_document_tags(COLLECTION, "no-such-doc", {"a": "b"}) == 0
