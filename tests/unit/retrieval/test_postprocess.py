from __future__ import annotations

import pytest

from core.types import Chunk, ScoredChunk
from retrieval.search import drop_near_duplicates, stitch

TEXT = "Kangaroos hop. They carry joeys in pouches. Koalas eat eucalyptus leaves all day long."


def chunk(doc: str, ordinal: int, start: int, end: int) -> Chunk:
    return Chunk(f"{doc}-{ordinal}", doc, ordinal, TEXT[start:end], start, end)


def test_near_duplicates_keep_the_best_ranked() -> None:
    a = ScoredChunk(chunk("a.txt", 0, 0, 44), 0.9)
    same_words = ScoredChunk(Chunk("b-0", "a.htm", 0, "kangaroos hop: they carry joeys in pouches!", 0, 44), 0.8)
    other = ScoredChunk(chunk("a.txt", 1, 45, len(TEXT)), 0.7)
    assert drop_near_duplicates([a, same_words, other], 0.9) == [a, other]
    assert drop_near_duplicates([a, same_words, other], 1.01) == [a, same_words, other]


def test_stitch_counts_overlaps_once_and_keeps_offsets() -> None:
    first, second, third = chunk("d", 0, 0, 30), chunk("d", 1, 15, 44), chunk("d", 2, 45, len(TEXT))
    joined = stitch([third, first, second])
    assert (joined.start, joined.end) == (0, len(TEXT))
    # The one space the splitter left between chunks comes back as a newline: offsets stay aligned.
    assert joined.text == TEXT[:44] + "\n" + TEXT[45:]
    assert joined.chunk_id == first.chunk_id


def test_convex_fusion_weighs_normalized_scores() -> None:
    from retrieval.search import convex_fusion

    a, b, c = (chunk("d", i, 0, 5) for i in range(3))
    dense = [ScoredChunk(a, 0.80), ScoredChunk(b, 0.70), ScoredChunk(c, 0.60)]
    sparse = [ScoredChunk(c, 30.0), ScoredChunk(b, 10.0)]
    fused = {h.chunk.chunk_id: h.score for h in convex_fusion(dense, sparse, alpha=0.75)}
    assert fused == pytest.approx({a.chunk_id: 0.75, b.chunk_id: 0.75 * 0.5, c.chunk_id: 0.25})
    order = [h.chunk.chunk_id for h in convex_fusion(dense, sparse, alpha=0.25)]
    assert order == [c.chunk_id, a.chunk_id, b.chunk_id]


def test_convex_fusion_scales_over_the_first_depth_hits_only() -> None:
    from retrieval.search import convex_fusion

    a, b, c, d = (chunk("d", i, 0, 5) for i in range(4))
    dense = [ScoredChunk(a, 0.9), ScoredChunk(b, 0.8), ScoredChunk(c, 0.7)]
    sparse = [ScoredChunk(b, 9.0), ScoredChunk(a, 5.0), ScoredChunk(c, 1.0)]
    shallow = convex_fusion(dense[:2], sparse[:2], alpha=0.5, depth=2)
    deep = convex_fusion([*dense, ScoredChunk(d, 0.1)], sparse, alpha=0.5, depth=2)
    # More candidates past the depth never reorder, nor rescore, the first ones.
    assert [(h.chunk.chunk_id, h.score) for h in deep[:2]] == [(h.chunk.chunk_id, h.score) for h in shallow]
    scores = {h.chunk.chunk_id: h.score for h in deep}
    # Past the depth a hit counts as much as a miss: 0.
    assert scores[c.chunk_id] == scores[d.chunk_id] == 0.0


def test_lexical_coverage_counts_the_query_terms_a_hit_holds() -> None:
    from retrieval.search import lexical_coverage
    from retrieval.sparse import Bm25SparseEncoder

    encoder = Bm25SparseEncoder()
    hit = ScoredChunk(Chunk("k", "k.txt", 0, "Kangaroos carry their joeys in a pouch.", 0, 40, title="Kangaroo"), 1.0)
    named = encoder.encode_query("Do kangaroos carry joeys?")  # kangaroo, carri, joey: all present
    paraphrased = encoder.encode_query("where do hopping marsupial babies ride")
    assert lexical_coverage(named, hit, encoder) == 1.0
    assert lexical_coverage(paraphrased, hit, encoder) == 0.0
    # The title header counts: it is part of what BM25 indexed.
    assert lexical_coverage(encoder.encode_query("kangaroo"), hit, encoder) == 1.0
    half = encoder.encode_query("kangaroos swimming")
    assert lexical_coverage(half, hit, encoder) == 0.5


def test_convex_fusion_scales_a_short_list_from_zero() -> None:
    from retrieval.search import convex_fusion

    a, b, c = (chunk("d", i, 0, 5) for i in range(3))
    # Only two chunks hold the query's one rare term: the second is a real match, not the bottom.
    sparse = [ScoredChunk(a, 8.0), ScoredChunk(b, 6.0)]
    dense = [ScoredChunk(c, 0.5), ScoredChunk(b, 0.4), ScoredChunk(a, 0.3)]
    scores = {h.chunk.chunk_id: h.score for h in convex_fusion(dense, sparse, alpha=0.5, depth=3)}
    assert scores[b.chunk_id] == pytest.approx(0.5 * 0.5 + 0.5 * 6.0 / 8.0)
    assert scores[a.chunk_id] == pytest.approx(0.5)


def test_dense_spread_floor_keeps_a_flat_dense_list_from_outvoting_bm25() -> None:
    from retrieval.search import convex_fusion

    named, *others = (chunk("d", i, 0, 5) for i in range(5))
    # Every dense candidate is about equally unrelated (cosines 0.30 .. 0.26); BM25 has a clear match.
    dense = [ScoredChunk(c, 0.30 - 0.01 * i) for i, c in enumerate(others)]
    sparse = [ScoredChunk(named, 12.0), *(ScoredChunk(c, 3.0 - 0.5 * i) for i, c in enumerate(others))]
    stretched = convex_fusion(dense, sparse, alpha=0.5, depth=4)
    floored = convex_fusion(dense, sparse, alpha=0.5, depth=4, dense_spread_floor=0.35)
    assert stretched[0].chunk.chunk_id == others[0].chunk_id  # 0.03 of cosine stretched to a full 1.0
    assert floored[0].chunk.chunk_id == named.chunk_id
    scores = {h.chunk.chunk_id: h.score for h in floored}
    assert scores[others[0].chunk_id] == pytest.approx(0.5 * 0.03 / 0.35 + 0.5 * 1.0 / 10.0)
    # A list already spread wider than the floor is scaled exactly as before.
    wide = [ScoredChunk(c, 0.9 - 0.2 * i) for i, c in enumerate(others)]
    assert convex_fusion(wide, sparse, 0.5, 4, 0.35) == convex_fusion(wide, sparse, 0.5, 4)


def _bm25(*scores: float) -> list[ScoredChunk]:
    return [ScoredChunk(chunk("d", i, 0, 5), s) for i, s in enumerate(scores)]


def test_bm25_flatness_is_the_tenth_score_over_the_best() -> None:
    from retrieval.search import bm25_flatness

    assert bm25_flatness(_bm25(10.0, *[9.0] * 8, 8.0)) == pytest.approx(0.8)
    # Fewer than ten matches: BM25 singles out a few passages, the opposite of flat.
    assert bm25_flatness(_bm25(10.0, 9.0, 9.0)) == 0.0
    assert bm25_flatness([]) == 0.0


def test_a_flat_bm25_list_weighs_less_in_convex_fusion() -> None:
    from core.types import FusionSpec
    from retrieval.search import dense_share

    spec = FusionSpec("convex", dense_weight=1.0, sparse_weight=1.0, flat_bm25_ratio=0.7, flat_bm25_weight=0.25)
    flat, sharp = _bm25(10.0, *[9.0] * 9), _bm25(10.0, *[3.0] * 9)
    assert dense_share(spec, flat) == pytest.approx(0.8)
    assert dense_share(spec, sharp) == pytest.approx(0.5)
    # Off (ratio 0) or outside convex fusion, the configured weights hold.
    assert dense_share(FusionSpec("convex", dense_weight=2.0, sparse_weight=1.0), flat) == pytest.approx(2 / 3)
    assert not FusionSpec("rrf", flat_bm25_ratio=0.7, flat_bm25_weight=0.25).adaptive
