"""Hybrid search on real text with the real embedder and the default embedded engine."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core.errors import InvalidRequest
from core.settings import RetrievalSettings, Settings
from core.types import FusionSpec, SearchFilters
from ingest.pipeline import IngestPipeline
from ingest.sources import SourceDocument
from retrieval.backends import open_index
from retrieval.index import VectorIndex
from retrieval.rerank import CrossEncoderReranker
from retrieval.search import HybridRetriever, lexical_coverage
from retrieval.sparse import Bm25SparseEncoder

COLLECTION = "search"
ARTICLES = {"set1/a1.txt": "zoo", "set1/a1.htm": "zoo", "set2/a1.txt": "history", "set3/a4.txt": "history"}


@pytest.fixture(scope="module")
def index(corpus_dir: Path, embedder: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VectorIndex]:
    settings = Settings(qdrant={"path": tmp_path_factory.mktemp("search-store")})
    store = open_index(settings.qdrant)
    sources = [SourceDocument(doc_id, Path(doc_id).name, str(corpus_dir / doc_id), path=corpus_dir / doc_id,
                              tags={"shelf": shelf}) for doc_id, shelf in ARTICLES.items()]
    # The same article again under another id: exact duplicate passages for the dedup test.
    sources.append(SourceDocument("copies/a1.txt", "a1.txt", "mem://copies/a1.txt",
                                  data=(corpus_dir / "set1/a1.txt").read_bytes(), tags={"shelf": "copies"}))
    report = IngestPipeline(embedder, Bm25SparseEncoder(), store, settings).ingest(sources, COLLECTION)
    assert not report.failures
    yield store
    store.close()


@pytest.fixture
def retriever(index: VectorIndex, embedder: Any) -> HybridRetriever:
    return HybridRetriever(index, embedder, Bm25SparseEncoder(), RetrievalSettings())


def test_finds_the_right_article_in_every_mode(retriever: HybridRetriever) -> None:
    for mode in ("dense", "sparse", "rrf", "dbsf", "convex"):
        hits = retriever.search("How do kangaroos keep cool in hot weather?", COLLECTION, top_k=3,
                                fusion=FusionSpec(mode))  # type: ignore[arg-type]
        assert hits[0].chunk.doc_id in ("set1/a1.txt", "set1/a1.htm", "copies/a1.txt"), mode
        if mode in ("dense", "rrf", "dbsf"):  # a sparse-only query is never embedded: no dense score
            assert all(h.dense_score is not None and -1 <= h.dense_score <= 1 for h in hits)
        elif mode == "convex":  # candidates found by the dense list carry their cosine
            assert hits[0].dense_score is not None
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_a_requests_mode_replaces_the_configured_fusion_and_keeps_its_other_settings(
        retriever: HybridRetriever) -> None:
    question = "How do kangaroos keep cool in hot weather?"
    configured = retriever.settings.fusion_spec()

    def found(hits: list[Any]) -> list[tuple[str, float]]:
        return [(h.chunk.chunk_id, round(h.score, 6)) for h in hits]

    for mode in ("dense", "sparse", "rrf", "dbsf"):
        asked = retriever.search(question, COLLECTION, top_k=5, mode=mode)  # type: ignore[arg-type]
        spelled = retriever.search(question, COLLECTION, top_k=5, fusion=replace(configured, mode=mode))  # type: ignore[arg-type]
        assert found(asked) == found(spelled), mode
    assert all(h.dense_score is None for h in retriever.search(question, COLLECTION, top_k=5, mode="sparse"))
    assert found(retriever.search(question, COLLECTION, top_k=5, mode=configured.mode)) == found(
        retriever.search(question, COLLECTION, top_k=5))


def test_the_same_passage_twice_is_returned_once(retriever: HybridRetriever) -> None:
    raw = retriever.index.query(COLLECTION, retriever.embedder.embed_query("kangaroo pouch joey"),
                                retriever.sparse.encode_query("kangaroo pouch joey"), FusionSpec("rrf"), 20)
    texts = [h.chunk.text for h in raw]
    assert len(texts) != len(set(texts)), "both copies of the article should match before dedup"
    hits = retriever.search("kangaroo pouch joey", COLLECTION, top_k=10)
    assert len({h.chunk.text for h in hits}) == len(hits)


def test_filters(retriever: HybridRetriever) -> None:
    question = "When did the war end?"
    only = retriever.search(question, COLLECTION, top_k=10, filters=SearchFilters(doc_ids=("set1/a1.txt",)))
    assert {h.chunk.doc_id for h in only} == {"set1/a1.txt"}
    history = retriever.search(question, COLLECTION, top_k=10, filters=SearchFilters(tags_all=(("shelf", "history"),)))
    assert history and {h.chunk.doc_id for h in history} <= {"set2/a1.txt", "set3/a4.txt"}
    htm = retriever.search(question, COLLECTION, top_k=5,
                           filters=SearchFilters(source_prefix=str(Path(only[0].chunk.source).parent)))
    assert htm and all(h.chunk.doc_id.startswith("set1/") for h in htm)
    assert retriever.search(question, COLLECTION, top_k=5, filters=SearchFilters(tags_any=(("shelf", "none"),))) == []


def test_window_widens_hits_with_their_neighbours(index: VectorIndex, embedder: Any) -> None:
    plain = HybridRetriever(index, embedder, Bm25SparseEncoder(), RetrievalSettings())
    wide = HybridRetriever(index, embedder, Bm25SparseEncoder(), RetrievalSettings(window=1))
    hit = plain.search("red kangaroo size", COLLECTION, top_k=1)[0]
    widened = wide.search("red kangaroo size", COLLECTION, top_k=1)[0]
    assert widened.chunk.start <= hit.chunk.start and widened.chunk.end >= hit.chunk.end
    assert len(widened.chunk.text) > len(hit.chunk.text)
    assert hit.chunk.text in widened.chunk.text


def test_query_embeddings_are_cached_and_bad_queries_refused(retriever: HybridRetriever) -> None:
    first = retriever.embedder.embed_query("a repeated question")
    assert retriever.embedder.embed_query("a repeated question") is first
    with pytest.raises(InvalidRequest):
        retriever.search("   ", COLLECTION)
    with pytest.raises(InvalidRequest):
        retriever.search("kangaroo", COLLECTION, top_k=0)
    # Only stopwords: no BM25 terms, so the search runs on meaning alone instead of failing.
    assert retriever.search("what is the", COLLECTION, top_k=2)


def test_cross_encoder_reranker_plumbing(index: VectorIndex, embedder: Any, minilm_path: Path) -> None:
    # No trained cross-encoder ships in a package: a CrossEncoder built from the MiniLM checkpoint
    # has an untrained head, so only the plumbing is under test here, not the ranking quality.
    reranker = CrossEncoderReranker(minilm_path, max_candidates=6)
    retriever = HybridRetriever(index, embedder, Bm25SparseEncoder(), RetrievalSettings(rerank_candidates=6), reranker)
    reranked = retriever.search("kangaroo diet", COLLECTION, top_k=4)
    plain = retriever.search("kangaroo diet", COLLECTION, top_k=6, rerank=False)
    assert len(reranked) == 4
    assert {h.chunk.chunk_id for h in reranked} <= {h.chunk.chunk_id for h in plain}
    assert [h.score for h in reranked] == sorted((h.score for h in reranked), reverse=True)


@pytest.mark.slow
def test_eval_retrieval_command(tmp_path: Path) -> None:
    beir = tmp_path / "mini"
    (beir / "qrels").mkdir(parents=True)
    docs = {"d1": "Kangaroos are marsupials that hop on their strong hind legs.",
            "d2": "The Amazon river carries more water than any other river.",
            "d3": "Volcanoes erupt when magma rises through the crust."}
    (beir / "corpus.jsonl").write_text("".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in docs.items()))
    queries = {"q1": "animal that jumps with a pouch", "q2": "largest river by water volume"}
    (beir / "queries.jsonl").write_text("".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in queries.items()))
    # No header row, as several public BEIR copies ship their qrels.
    (beir / "qrels" / "test.tsv").write_text("q1\td1\t1\nq2\td2\t1\n")
    env = {**os.environ, "RAGQA_QDRANT__PATH": str(tmp_path / "store")}
    command = [sys.executable, "-m", "cli.main", "eval", "retrieval", str(beir), "--modes", "dense,rrf:g=0,rrf,sparse",
               "--out", str(tmp_path / "out")]
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    results = json.loads((tmp_path / "out" / "retrieval-mini.json").read_text())
    # Hybrid modes carry the configured lexical gate unless `g=0` turns it off; the configured
    # default is always scored, and named.
    default = RetrievalSettings().fusion_spec().label()
    assert set(results["modes"]) == {"dense", "rrf(k=60)", "rrf(k=60,gate=0.5)", "sparse", default}
    assert results["default"] == default
    assert results["chunks"] == 3
    # Piped, progress comes as plain lines on stderr, and the table marks the default.
    assert "ingest: 3/3" in run.stderr and "dense: 2/2" in run.stderr
    assert "(default)" in run.stdout
    assert results["modes"]["dense"]["recall@5"] == 1.0
    assert (tmp_path / "out" / "retrieval-mini.png").stat().st_size > 1000
    assert results["queries"] == 2
    # The temporary collection is cleaned up.
    check = subprocess.run([sys.executable, "-c", "from core.settings import Settings; from retrieval.backends import "
                            "open_index; print(open_index(Settings().qdrant).list_collections())"],
                           capture_output=True, text=True, env=env, timeout=60)
    assert check.stdout.strip() == "[]", check.stderr


def test_lexical_gate_ranks_a_paraphrase_by_meaning_alone(index: VectorIndex, embedder: Any) -> None:
    settings = RetrievalSettings(lexical_gate=0.5)
    sparse = Bm25SparseEncoder()
    gated = HybridRetriever(index, embedder, sparse, settings)
    gate_off = replace(settings.fusion_spec(), lexical_gate=0.0)

    def ids(query: str, fusion: FusionSpec | None = None) -> list[str]:
        return [h.chunk.chunk_id for h in gated.search(query, COLLECTION, top_k=5, fusion=fusion)]

    def coverage(query: str) -> float:
        best = gated.search(query, COLLECTION, top_k=1, fusion=FusionSpec("sparse"))[0]
        return lexical_coverage(sparse.encode_query(query), best, sparse)

    paraphrase = "why do hopping grazers from down under barely burp out planet-warming emissions"
    assert coverage(paraphrase) < 0.5
    # Without the gate BM25's incidental matches reorder the list; with it, dense alone ranks.
    assert ids(paraphrase, gate_off) != ids(paraphrase, FusionSpec("dense"))
    assert ids(paraphrase) == ids(paraphrase, FusionSpec("dense"))

    named = "Is the kangaroo featured on the Australian coat of arms?"
    assert coverage(named) >= 0.5
    assert ids(named) == ids(named, gate_off)


def test_dense_spread_floor_lets_a_rare_term_match_outrank_flat_dense_scores(
        retriever: HybridRetriever, corpus_dir: Path) -> None:
    """For "What happened in 1846?" every chunk is about as close in meaning; only BM25 sees the year."""
    text = (corpus_dir / "set2/a1.txt").read_text() + (corpus_dir / "set3/a4.txt").read_text()
    years = sorted(set(re.findall(r"\b1[6-9]\d\d\b", text)))
    assert len(years) > 30
    floored = retriever.settings.fusion_spec()
    assert floored.dense_spread_floor > 0
    stretched = replace(floored, dense_spread_floor=0.0)

    def top_holds_the_year(fusion: FusionSpec) -> int:
        return sum(year in retriever.search(f"What happened in {year}?", COLLECTION, top_k=1,
                                            fusion=fusion)[0].chunk.text for year in years)

    dense_only, without_floor, with_floor = (top_holds_the_year(f) for f in (
        FusionSpec("dense"), stretched, floored))
    # Measured: 14, 46 and 56 of 65 years.
    assert dense_only < len(years) / 2
    assert with_floor >= without_floor + 5
    assert with_floor >= 0.8 * len(years)


def test_each_query_logs_its_fusion_decision_at_debug_level(retriever: HybridRetriever) -> None:
    import logging

    import structlog
    from structlog.testing import capture_logs

    wrapper = structlog.get_config()["wrapper_class"]
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        with capture_logs() as logs:
            retriever.search("Is the kangaroo featured on the Australian coat of arms?", COLLECTION, top_k=3)
    finally:
        structlog.configure(wrapper_class=wrapper)
    decisions = [entry for entry in logs if entry["event"] == "retrieval.fusion"]
    assert len(decisions) == 1, logs
    decision = decisions[0]
    assert decision["log_level"] == "debug"
    assert 0.0 <= decision["bm25_flatness"] <= 1.0
    # 1/1 weights: an even split, or 0.8 for dense when BM25's list is flat.
    expected = 0.8 if decision["bm25_flatness"] >= 0.7 else 0.5
    assert decision["dense_share"] == pytest.approx(expected, abs=1e-3)
    assert decision["gate_coverage"] >= 0.5
