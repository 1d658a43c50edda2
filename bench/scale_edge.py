"""The embedded store (Qdrant Edge) at scale: build time, disk, memory and hybrid search latency at
100k and 1M chunks, against exact dense search in numpy over the same vectors.

    .venv/bin/python -m bench.scale_edge [--sizes 100000,1000000] [--queries 200] [--store DIR]

The collection is built through the project's write path (``IndexPoint`` -> ``EdgeIndex.upsert``:
the same payloads an ingest writes: text, title, source, tags, readers, times) with the embedder
skipped: dense vectors are random unit vectors (384 dims, seeded per batch so they can be made
again), BM25 vectors are encoded from windows of real text (100-180 words at random places in the
cmu-qa-dev articles). The collection grows in stages (100k, then to 1M), optimized (HNSW built)
after each; each stage is measured by a fresh process that opens the store as a server would:
its resident memory before and after opening it and running the queries, then the latency of
``HybridRetriever.search`` (the default fusion, two engine queries and the payload read) for real
cmu-qa-dev questions with a fixed set of query vectors (no model in the process), then the
yardstick in the same process: exact top-50 by a numpy matrix product over all the stage's dense
vectors. A stage is skipped, and said so, when the disk or the memory left cannot hold it.
Results: bench/results/scale_edge.json (written after each stage). ``--store DIR`` keeps the store;
a later run with the same ``--store`` grows it on from what it holds, keeping the stages measured
before (so a long build can be stopped after a stage and continued to another size).
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.common import ROOT, peak_rss_mb, write_results
from core.logging import configure_logging
from core.settings import Settings
from core.stats import percentile
from core.types import Chunk
from retrieval.edge_index import EdgeIndex
from retrieval.edge_store import disk_bytes
from retrieval.evaluation import load_qa_tsv
from retrieval.index import IndexPoint
from retrieval.search import HybridRetriever
from retrieval.sparse import Bm25SparseEncoder

SHARED = ROOT.parent / "shared" / "data" / "cmu-qa-dev"
COLLECTION = "bench"
DIM = 384
IDENTITY = "bench/fixed-vectors"  # the collection's embedder record: the fixed query vectors below match it
CHUNKS_PER_DOC = 50
BATCH = 4000
SEED = 7
# Room a stage needs, from a 20k trial here (232 MB on disk and 145 MB resident, fixed costs included:
# ~12 KB and ~7 KB a point, on the safe side at scale), plus the yardstick's matrix: a stage that
# would not fit is skipped.
DISK_PER_POINT = 12_000
MEMORY_PER_POINT = 7_000 + DIM * 4


class FixedQueryVectors:
    """The query embedder of the benchmark: a fixed unit vector per question, no model loaded."""

    def __init__(self, questions: Sequence[str], seed: int = 11) -> None:
        rng = np.random.default_rng(seed)
        vectors = rng.standard_normal((len(questions), DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        self.vectors = {q.strip(): v for q, v in zip(questions, vectors, strict=True)}

    model_name = "fixed-vectors"
    identity = IDENTITY
    dimension = DIM
    max_seq_length = 256

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def tokenize(self, text: str) -> list[int]:
        return [hash(word) % 30000 for word in text.split()]

    def embed_documents(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return np.stack([self.embed_query(t) for t in texts])

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        return self.vectors[text.strip()]


def corpus_words(articles: Path) -> tuple[list[str], list[tuple[int, str, str]]]:
    """Every word of the articles in order, and where each article starts (offset, title, source)."""
    words: list[str] = []
    starts = []
    for path in sorted(articles.rglob("*.txt")):
        text = path.read_text(encoding="utf-8", errors="replace")
        starts.append((len(words), text.split("\n", 1)[0][:120], str(path)))
        words.extend(re.findall(r"\S+", text))
    return words, starts


def dense_batch(batch_no: int, n: int) -> npt.NDArray[np.float32]:
    """Batch ``batch_no``'s dense vectors: the same every time (the yardstick makes them again)."""
    vectors = np.random.default_rng((SEED, batch_no)).standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def build_points(start: int, n: int, words: list[str], starts: list[tuple[int, str, str]],
                 sparse: Bm25SparseEncoder, now: datetime) -> tuple[list[IndexPoint], float]:
    """Points ``start`` .. ``start + n`` (a whole batch); the seconds spent encoding BM25."""
    pick = random.Random(SEED * 1_000_003 + start)
    offsets = [s[0] for s in starts]
    dense = dense_batch(start // BATCH, n)
    encode_s = 0.0
    points = []
    for i in range(n):
        ordinal = start + i
        length = pick.randint(100, 180)
        offset = pick.randrange(0, len(words) - length)
        text = " ".join(words[offset:offset + length])
        _, title, source = starts[bisect.bisect_right(offsets, offset) - 1]
        doc = ordinal // CHUNKS_PER_DOC
        chunk = Chunk(f"00000000-0000-4000-8000-{ordinal:012d}", f"doc{doc}", ordinal % CHUNKS_PER_DOC, text,
                      0, len(text), title=title, source=source, content_hash=f"{doc:064x}",
                      tags={"team": ("legal", "sales", "ops", "hr")[doc % 4]}, ingested_at=now)
        began = time.perf_counter()
        vector = sparse.encode_document(text)
        encode_s += time.perf_counter() - began
        points.append(IndexPoint(chunk, dense[i], vector, CHUNKS_PER_DOC, "bench"))
    return points, encode_s


def grow(index: EdgeIndex, have: int, want: int, words: list[str], starts: list[tuple[int, str, str]],
         sparse: Bm25SparseEncoder) -> dict[str, float]:
    """Adds points ``have`` .. ``want`` in batches, then optimizes; the seconds of each part."""
    now = datetime.now(UTC)
    encode_s = upsert_s = 0.0
    began = time.perf_counter()
    for start in range(have, want, BATCH):
        points, encoded = build_points(start, min(BATCH, want - start), words, starts, sparse, now)
        encode_s += encoded
        t = time.perf_counter()
        index.upsert(COLLECTION, points)
        upsert_s += time.perf_counter() - t
        if (start // BATCH) % 25 == 0:
            print(f"  {start + len(points):,} points ({time.perf_counter() - began:.0f} s)", flush=True)
    written_s = time.perf_counter() - began
    t = time.perf_counter()
    index.optimize(COLLECTION)
    optimize_s = time.perf_counter() - t
    return {"write_s": round(written_s, 1), "bm25_encode_s": round(encode_s, 1), "upsert_s": round(upsert_s, 1),
            "optimize_s": round(optimize_s, 1)}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(store: Path, size: int, n_queries: int) -> dict[str, Any]:
    """In a fresh process: the store's memory when opened and queried, search latency, the yardstick."""
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    questions = [q.text for q in load_qa_tsv(SHARED / "qa.tsv").queries]
    random.Random(3).shuffle(questions)
    questions = questions[:n_queries + 10]
    embedder = FixedQueryVectors(questions)
    sparse = Bm25SparseEncoder()
    base = rss_mb()
    index = EdgeIndex(store, hnsw_ef=settings.qdrant.hnsw_ef, optimize_on_close=False)
    retriever = HybridRetriever(index, embedder, sparse, settings.retrieval)
    began = time.perf_counter()
    assert index.count(COLLECTION) == size, (index.count(COLLECTION), size)
    opened = rss_mb()
    for question in questions[:10]:  # the first queries page the store in
        retriever.search(question, COLLECTION, top_k=8)
    first_s = time.perf_counter() - began
    timings = []
    for question in questions[10:]:
        t = time.perf_counter()
        retriever.search(question, COLLECTION, top_k=8)
        timings.append((time.perf_counter() - t) * 1000)
    queried = rss_mb()
    index.close()
    # The yardstick: exact top-50 over every dense vector (what HNSW spares), in this process.
    matrix = np.concatenate([dense_batch(b, min(BATCH, size - b * BATCH)) for b in range((size + BATCH - 1) // BATCH)])
    exact = []
    for question in questions[10:10 + min(50, n_queries)]:
        t = time.perf_counter()
        scores = matrix @ embedder.embed_query(question)
        top = np.argpartition(scores, -50)[-50:]
        _ = top[np.argsort(-scores[top])]
        exact.append((time.perf_counter() - t) * 1000)
    return {"rss_base_mb": round(base, 1), "rss_opened_mb": round(opened, 1), "rss_queried_mb": round(queried, 1),
            "store_rss_mb": round(queried - base, 1), "open_and_first_queries_s": round(first_s, 2),
            "queries": len(timings), "mode": settings.retrieval.fusion_spec().label(),
            "p50_ms": round(percentile(timings, 50), 2), "p95_ms": round(percentile(timings, 95), 2),
            "exact_dense_p50_ms": round(percentile(exact, 50), 2),
            "exact_dense_p95_ms": round(percentile(exact, 95), 2)}


def earlier_stages(store: Path, have: int) -> list[dict[str, Any]]:
    """The stages the results file holds for ``store``, up to ``have`` chunks."""
    try:
        earlier = json.loads((ROOT / "bench" / "results" / "scale_edge.json").read_text())
    except (OSError, ValueError):
        return []
    if earlier.get("inputs", {}).get("store") != str(store):
        return []
    return [stage for stage in earlier["stages"] if stage["chunks"] <= have]


def mem_available_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--store", type=Path, default=None, help="build here (default: a temporary folder)")
    parser.add_argument("--measure", type=Path, default=None, help=argparse.SUPPRESS)  # the measuring child
    parser.add_argument("--size", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    configure_logging("WARNING")
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.size, args.queries)))
        return
    sizes = sorted(int(s) for s in args.sizes.split(","))
    tmp = None if args.store else tempfile.mkdtemp(prefix="ragqa-scale-edge-", dir="/tmp")
    store = args.store or Path(str(tmp)) / "store"
    words, starts = corpus_words(SHARED / "articles")
    sparse = Bm25SparseEncoder()
    stages: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    results: dict[str, Any] = {"inputs": {"sizes": sizes, "queries": args.queries, "batch": BATCH, "dim": DIM,
                                          "corpus_words": len(words), "store": str(store)},
                               "stages": stages, "skipped": skipped}
    try:
        index = EdgeIndex(store, optimize_on_close=False)
        index.ensure_collection(COLLECTION, DIM, IDENTITY)
        have, built_s = index.count(COLLECTION), 0.0
        if have:  # a store a run left (--store): grow it on, keeping that run's stages
            stages.extend(earlier_stages(store, have))
            built_s = stages[-1]["build_s_total"] if stages else 0.0
        for size in (s for s in sizes if s > have):
            need_disk = (size - have) * DISK_PER_POINT
            free_disk = shutil.disk_usage(store).free
            need_mem, free_mem = size * MEMORY_PER_POINT, mem_available_bytes()
            if need_disk > free_disk or need_mem > free_mem:
                skipped.append({"chunks": size, "disk_free_gb": round(free_disk / 1e9, 1),
                                "disk_needed_gb": round(need_disk / 1e9, 1), "memory_free_gb": round(free_mem / 1e9, 1),
                                "memory_needed_gb": round(need_mem / 1e9, 1)})
                print(f"skipped {size:,}: {skipped[-1]}", flush=True)
                break
            print(f"building to {size:,} chunks (load average {os.getloadavg()[0]:.1f})", flush=True)
            timing = grow(index, have, size, words, starts, sparse)
            built_s += timing["write_s"] + timing["optimize_s"]
            index.close()  # flushed: the measuring process opens it
            stage: dict[str, Any] = {"chunks": size, **timing, "build_s_total": round(built_s, 1),
                                     "build_peak_rss_mb": round(peak_rss_mb(), 1), "disk_mb": round(
                                         disk_bytes(store) / 2**20, 1), "load_avg_build_end": os.getloadavg()}
            child = subprocess.run([sys.executable, "-m", "bench.scale_edge", "--measure", str(store), "--size",
                                    str(size), "--queries", str(args.queries)], cwd=ROOT, capture_output=True,
                                   text=True, check=False)
            if child.returncode != 0:
                raise SystemExit(f"the measuring process failed:\n{child.stderr[-3000:]}")
            stage.update(json.loads(child.stdout.strip().splitlines()[-1]))
            stage["load_avg_measure_end"] = os.getloadavg()
            stage["exact_over_edge_p50"] = round(stage["exact_dense_p50_ms"] / stage["p50_ms"], 2)
            stages.append(stage)
            print(json.dumps(stage), flush=True)
            results["largest_measured"] = size
            write_results("scale_edge", results)
            have = size
            index = EdgeIndex(store, optimize_on_close=False)
        index.close()
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    path = write_results("scale_edge", results)
    print(f"results: {path}")


if __name__ == "__main__":
    main()
