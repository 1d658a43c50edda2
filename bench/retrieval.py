"""Search latency: Qdrant Edge vs qdrant-client local mode at 10k and 100k chunks, in one run.

    .venv/bin/python -m bench.retrieval [--sizes 10000,100000] [--queries 100]

Stored points are synthetic (random unit dense vectors; BM25 sparse vectors of word sequences
drawn from the cmu-qa-dev vocabulary), because embedding 100k real chunks takes ~45 minutes here.
The query path is the real one: `HybridRetriever.search` with the real embedder (its LRU cleared
for every query), the configured fusion, duplicate removal, on real cmu-qa-dev questions.
qdrant-client local mode is the yardstick (its exhaustive search is what Edge replaces); it runs
in memory, since its on-disk upserts take minutes per 10k points and do not change its search.
Bars (issue #16): Edge hybrid p50 <= 10 ms at 100k chunks, query embedding p50 <= 3 ms. The
search is also timed with the query's embedding cached (`search_cached_p50_ms`): what the engine
and the post-processing cost without the model. Results: bench/results/retrieval.json.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from qdrant_client import QdrantClient
from rich.console import Console
from rich.table import Table

from bench.common import write_results
from core.logging import configure_logging
from core.settings import Settings
from core.stats import percentile
from core.types import Chunk
from ingest.embedders import embedder_from_settings
from retrieval.edge_index import EdgeIndex
from retrieval.evaluation import load_qa_tsv
from retrieval.index import IndexPoint, VectorIndex
from retrieval.qdrant_client_index import QdrantClientIndex
from retrieval.search import HybridRetriever
from retrieval.sparse import Bm25SparseEncoder

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "cmu-qa-dev"
BATCH = 2000


def vocabulary(articles: Path) -> list[str]:
    words: set[str] = set()
    for path in articles.rglob("*.txt"):
        words.update(re.findall(r"[A-Za-z]{3,}", path.read_text(encoding="utf-8", errors="replace")))
    return sorted(words)


def fill(index: VectorIndex, size: int, vocab: list[str], sparse: Bm25SparseEncoder, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    index.ensure_collection("bench", 384)
    now = datetime.now(UTC)
    for start in range(0, size, BATCH):
        n = min(BATCH, size - start)
        dense = rng.standard_normal((n, 384)).astype(np.float32)
        dense /= np.linalg.norm(dense, axis=1, keepdims=True)
        points = []
        for i in range(n):
            text = " ".join(pick.choices(vocab, k=120))
            ordinal = start + i
            chunk = Chunk(f"00000000-0000-4000-8000-{ordinal:012d}", f"doc{ordinal // 50}", ordinal % 50, text,
                          0, len(text), title="synthetic", source=f"/bench/doc{ordinal // 50}.txt",
                          content_hash="h", tags={"shard": str(ordinal % 4)}, ingested_at=now)
            points.append(IndexPoint(chunk, dense[i], sparse.encode_document(text), 50, "bench"))
        index.upsert("bench", points)


def time_queries(retriever: HybridRetriever, questions: list[str], cached: bool = False) -> list[float]:
    timings = []
    for question in questions:
        if cached:
            retriever.embedder.embed_query(question)
        else:
            retriever.embedder._cache.clear()  # type: ignore[attr-defined]  # time the real embedding every time
        started = time.perf_counter()
        retriever.search(question, "bench", top_k=8)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--local-queries", type=int, default=40, help="local mode is slow at 100k")
    parser.add_argument("--backends", default="edge,local", help="which of edge,local to run")
    parser.add_argument("--edge-store", type=Path, default=None,
                        help="keep the Edge stores here (one folder per size) and reuse a full one on the next run")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    configure_logging("WARNING")
    console = Console()
    settings = Settings()
    embedder = embedder_from_settings(settings.embedding)
    sparse = Bm25SparseEncoder()
    vocab = vocabulary(SHARED / "articles")
    questions = [q.text for q in load_qa_tsv(SHARED / "qa.tsv").queries]
    random.Random(3).shuffle(questions)
    embedder.embed_query("warm up")
    rows: list[dict[str, object]] = []
    for size in [int(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            backends: list[tuple[str, VectorIndex, int]] = [
                ("edge", EdgeIndex(args.edge_store / str(size) if args.edge_store else Path(tmp) / "edge",
                                   hnsw_ef=settings.qdrant.hnsw_ef), args.queries),
                ("local", QdrantClientIndex(QdrantClient(location=":memory:")), args.local_queries),
            ]
            wanted = args.backends.split(",")
            for name, index, n_queries in [b for b in backends if b[0] in wanted]:
                started = time.perf_counter()
                reused = index.collection_exists("bench") and index.count("bench") == size
                if not reused:
                    fill(index, size, vocab, sparse)
                    if isinstance(index, EdgeIndex):
                        index.optimize("bench")
                load_s = time.perf_counter() - started
                retriever = HybridRetriever(index, embedder, sparse, settings.retrieval)
                time_queries(retriever, questions[:5])  # warm caches and code paths
                timings = time_queries(retriever, questions[5:5 + n_queries])
                cached = time_queries(retriever, questions[5:5 + n_queries], cached=True)
                rows.append({"backend": name, "chunks": size, "queries": len(timings),
                             "mode": settings.retrieval.fusion_spec().label(), "load_s": round(load_s, 1),
                             "store_reused": reused,
                             "p50_ms": round(percentile(timings, 50), 2),
                             "p95_ms": round(percentile(timings, 95), 2),
                             "search_cached_p50_ms": round(percentile(cached, 50), 2)})
                index.close()
                console.print(rows[-1])
    embed_only = []
    for question in questions[200:300]:
        embedder._cache.clear()
        started = time.perf_counter()
        embedder.embed_query(question)
        embed_only.append((time.perf_counter() - started) * 1000)
    ratios = {}
    for size in {r["chunks"] for r in rows}:
        edge = next((r for r in rows if r["chunks"] == size and r["backend"] == "edge"), None)
        local = next((r for r in rows if r["chunks"] == size and r["backend"] == "local"), None)
        if edge and local:
            ratios[str(size)] = round(float(local["p50_ms"]) / float(edge["p50_ms"]), 1)  # type: ignore[arg-type]
    edge_100k = next((r for r in rows if r["backend"] == "edge" and r["chunks"] == 100000), None)
    embed_p50 = percentile(embed_only, 50)
    results = {"rows": rows, "embedder": settings.embedding.backend, "query_embedding_p50_ms": round(embed_p50, 2),
               "local_over_edge_p50": ratios, "bar_edge_p50_ms_at_100k": 10, "bar_query_embedding_p50_ms": 3,
               "passes": edge_100k is not None and float(edge_100k["p50_ms"]) <= 10  # type: ignore[arg-type]
               and embed_p50 <= 3}
    chosen = sorted(args.backends.split(","))
    path = write_results("retrieval" if chosen == ["edge", "local"] else "retrieval-" + "-".join(chosen), results)
    table = Table(title="search latency (query embedding + hybrid query + post-processing)")
    for column in ("backend", "chunks", "mode", "p50 ms", "p95 ms", "p50 ms, embedding cached", "load s"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(str(r["backend"]), str(r["chunks"]), str(r["mode"]), str(r["p50_ms"]), str(r["p95_ms"]),
                      str(r["search_cached_p50_ms"]), str(r["load_s"]))
    console.print(table)
    console.print(f"query embedding alone p50: {results['query_embedding_p50_ms']} ms; local/edge p50: {ratios}")
    console.print(f"results: {path}")


if __name__ == "__main__":
    main()
