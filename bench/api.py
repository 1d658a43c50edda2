"""HTTP API: cache hits against the floor for this stack, cache-miss overhead at 10k chunks, throughput.

    .venv/bin/python -m bench.api [--chunks 10000] [--requests 1000] [--concurrency 32] [--seconds 10]

The store holds a few real cmu-qa-dev articles plus synthetic chunks (random unit vectors,
BM25 vectors of words drawn from the articles) up to ``--chunks``, written straight through the
index (embedding 10k real chunks takes ~7 min here). The API then runs under uvicorn in its own
process with the default embedded LLM (llama.cpp, SmolLM2) and the shared Redis (a key prefix of
its own, removed afterwards); the client is this process (``http.client``, keep-alive).

- **Cache hit vs floor**, in the same run: ``POST /ask`` served from the cache, against a bare
  route on the same server (uvicorn + FastAPI, same middleware) doing one Redis GET of the same
  stored answer and returning it. Bar: hit p50 and p95 <= 1.5x the floor's. Also the raw Redis GET
  round trip from Python, and the hit with API keys + rate limiting on (one more Redis call).
- **Cache-miss overhead**: total time minus LLM time (``generate`` + ``condense``) for fresh
  questions, p50. Bar: <= 50 ms at 10k chunks.
- **Throughput**: cache hits at ``--concurrency`` concurrent keep-alive connections.
- **Semantic cache**: hit rate on paraphrases, wrong-hit rate on different questions
  (``bench/api_semantic.py``).

Results: bench/results/api.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import redis
from rich.console import Console
from rich.table import Table

from bench.api_client import FLOOR_KEY, Http, LiveApi, run_concurrent, timed
from bench.common import write_results
from core.settings import Settings
from core.stats import percentile
from core.types import Chunk
from ingest.sources import iter_sources
from retrieval.index import IndexPoint

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "cmu-qa-dev" / "articles"
ARTICLES = ("set1/a1.txt", "set1/a3.txt", "set1/a7.txt", "set1/a10.txt")
MISS_QUESTIONS = [
    "What do kangaroos eat?", "How long do kangaroos live?", "What is a group of kangaroos called?",
    "Where do penguins live?", "Can penguins fly?", "What do penguins eat?", "What is the largest penguin?",
    "What do sea otters eat?", "How do otters keep warm?", "Do otters use tools?", "Why are ducklings vulnerable?",
    "What are predators of ducks?", "Do all ducks quack?", "Is a drake a male duck?",
    "Where did the expression sitting duck come from?", "What is a roo?", "Are kangaroos good swimmers?",
    "How many species of otter are there?", "What kind of ducks feed on land?", "Where do joeys develop?",
]  # fmt: skip
HIT_QUESTION = "What do kangaroos eat?"
BENCH_KEY = "bench-secret-key"


def stats_ms(values: list[float]) -> dict[str, float]:
    return {"p50": round(percentile(values, 50), 3), "p95": round(percentile(values, 95), 3),
            "mean": round(sum(values) / len(values), 3), "n": len(values)}  # fmt: skip


def synthetic_points(count: int, dim: int, words: list[str], sparse: Any, pipeline: str) -> Iterator[list[IndexPoint]]:
    rng = np.random.default_rng(7)
    picker = random.Random(7)
    batch: list[IndexPoint] = []
    for i in range(count):
        text = " ".join(picker.choices(words, k=120))
        doc, ordinal = f"synthetic/{i // 20:05d}.txt", i % 20
        chunk = Chunk(str(uuid.uuid5(uuid.NAMESPACE_URL, f"{doc}#{ordinal}")), doc, ordinal, text, ordinal * 800,
                      ordinal * 800 + len(text), title=f"synthetic {i // 20}", source=doc)  # fmt: skip
        vector = rng.standard_normal(dim).astype(np.float32)
        vector /= np.linalg.norm(vector)
        batch.append(IndexPoint(chunk, vector, sparse.encode_document(text), chunk_count=20, pipeline=pipeline))
        if len(batch) == 256:
            yield batch
            batch = []
    if batch:
        yield batch


def prepare_store(settings: Settings, corpus: Path, total_chunks: int) -> dict[str, int]:
    """Real articles through the pipeline, then synthetic chunks straight into the index."""
    from bootstrap.components import Components

    with Components(settings) as parts:
        sources = [s for s in iter_sources([corpus]) if s.doc_id in ARTICLES]
        report = parts.pipeline.ingest(sources, "docs")
        real = report.chunks_written
        words = [w for s in sources for w in (s.read(10**8).decode("utf-8", "replace").split()) if w.isalpha()]
        for batch in synthetic_points(max(0, total_chunks - real), parts.embedder.dimension, words, parts.sparse,
                                      parts.pipeline.pipeline_id):  # fmt: skip
            parts.index.upsert("docs", batch)
        chunks = parts.index.stats("docs").chunks
    return {"real_chunks": real, "chunks": chunks}


def redis_get_round_trip(url: str, key: str, n: int) -> dict[str, float]:
    client = redis.Redis.from_url(url)
    for _ in range(50):
        client.get(key)
    times = []
    for _ in range(n):
        started = time.perf_counter()
        client.get(key)
        times.append((time.perf_counter() - started) * 1000)
    return stats_ms(times)


def measure_misses(http: Http, questions: list[str]) -> dict[str, Any]:
    overheads, totals, llm = [], [], []
    refused = 0
    stages: dict[str, list[float]] = {}
    http.post_json("/ask", {"question": "Warm-up: what is a marsupial?"})  # opens shards, first-call costs
    for question in questions:
        time.sleep(0.5)  # lets the previous generation's llama.cpp threads go idle: one request at a time
        started = time.perf_counter()
        status, body = http.post_json("/ask", {"question": question})
        total = (time.perf_counter() - started) * 1000
        assert status == 200 and not body["cached"], body
        timings = body["timings_ms"]
        model_ms = timings.get("generate", 0.0) + timings.get("condense", 0.0)
        refused += bool(body["refused"])
        overheads.append(total - model_ms)
        totals.append(total)
        llm.append(model_ms)
        for stage, ms in timings.items():
            stages.setdefault(stage, []).append(ms)
    return {"overhead_ms": stats_ms(overheads), "total_ms": stats_ms(totals), "llm_ms": stats_ms(llm),
            "stages_p50_ms": {k: round(percentile(v, 50), 3) for k, v in stages.items()},
            "questions": len(questions), "refused": refused}  # fmt: skip


def measure_hits_vs_floor(http: Http, n: int) -> dict[str, Any]:
    body = {"question": HIT_QUESTION}
    hits, floor = [], []
    for _ in range(100):  # warm both paths
        http.post_json("/ask", body)
        http.post_raw("/bench/floor", body)
    for _ in range(n // 100):  # interleaved blocks, so drift in machine load hits both alike
        hits += timed(lambda: http.post_json("/ask", body, check_cached=True), 100)
        floor += timed(lambda: http.post_raw("/bench/floor", body), 100)
    h, f = stats_ms(hits), stats_ms(floor)
    return {"hit_ms": h, "floor_ms": f, "ratio_p50": round(h["p50"] / f["p50"], 3),
            "ratio_p95": round(h["p95"] / f["p95"], 3)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=1000, help="Sequential requests per path (hit, floor).")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0, help="Duration of each throughput run.")
    parser.add_argument("--misses", type=int, default=8, help="Fresh questions for the cache-miss overhead.")
    parser.add_argument("--quick", action="store_true", help="Hits and floor only (no misses, throughput, semantic).")
    parser.add_argument("--redis-url", default=os.environ.get("RAGQA_BENCH_REDIS", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    console = Console()
    prefix = f"ragqa-bench-{uuid.uuid4().hex[:8]}:"
    results: dict[str, Any] = {"inputs": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}}
    with tempfile.TemporaryDirectory(prefix="ragqa-bench-api-") as tmp:
        env = {"RAGQA_QDRANT__PATH": f"{tmp}/qdrant", "RAGQA_REDIS__URL": args.redis_url,
               "RAGQA_REDIS__KEY_PREFIX": prefix, "RAGQA_API__UPLOAD_DIR": f"{tmp}/uploads",
               "RAGQA_API__RATE_LIMIT_PER_MINUTE": "0", "RAGQA_LLM__MAX_TOKENS": "16", "RAGQA_LOG_LEVEL": "WARNING"}
        settings = Settings(qdrant={"path": Path(tmp) / "qdrant"}, redis={"url": args.redis_url, "key_prefix": prefix})
        console.print(f"preparing {args.chunks} chunks ...")
        results["store"] = prepare_store(settings, args.corpus, args.chunks)
        try:
            with LiveApi(env) as api, Http(api.port) as http:
                console.print("cache misses (LLM answers) ...")
                results["miss"] = measure_misses(http, MISS_QUESTIONS[: 1 if args.quick else args.misses])
                # The floor returns the very bytes a hit returns, stored under its own key.
                _, hit_body = http.post_raw("/ask", {"question": HIT_QUESTION})
                redis.Redis.from_url(args.redis_url).set(f"{prefix}{FLOOR_KEY}", hit_body)
                console.print("cache hits vs floor ...")
                results["hit_vs_floor"] = measure_hits_vs_floor(http, args.requests)
                results["redis_get_ms"] = redis_get_round_trip(args.redis_url, f"{prefix}{FLOOR_KEY}", args.requests)
                if args.quick:
                    console.print(results["hit_vs_floor"])
                    return
                console.print(f"throughput at concurrency {args.concurrency} ...")
                body = json.dumps({"question": HIT_QUESTION}).encode()
                results["throughput"] = {
                    "hit": run_concurrent(api.port, "/ask", body, args.concurrency, args.seconds),
                    "floor": run_concurrent(api.port, "/bench/floor", body, args.concurrency, args.seconds),
                }
            secured = {**env, "RAGQA_API__API_KEYS_SHA256": json.dumps([_digest(BENCH_KEY)]),
                       "RAGQA_API__RATE_LIMIT_PER_MINUTE": "100000000", "RAGQA_API__RATE_LIMIT_BURST": "1000000"}
            with LiveApi(secured) as api, Http(api.port, key=BENCH_KEY) as http:
                console.print("cache hits with API keys and rate limiting ...")
                http.post_json("/ask", {"question": HIT_QUESTION})
                results["hit_vs_floor_with_auth"] = measure_hits_vs_floor(http, args.requests // 2)
        finally:
            _delete_prefix(args.redis_url, prefix)
    from bench.api_semantic import evaluate_semantic_cache
    from core.settings import EmbeddingSettings
    from ingest.embedding import SentenceTransformerEmbedder

    console.print("semantic cache ...")
    results["semantic_cache"] = evaluate_semantic_cache(
        SentenceTransformerEmbedder.from_settings(EmbeddingSettings()), args.redis_url)
    hv = results["hit_vs_floor"]
    results["bars"] = {
        "hit_p50_within_1.5x_floor": hv["ratio_p50"] <= 1.5, "hit_p95_within_1.5x_floor": hv["ratio_p95"] <= 1.5,
        "miss_overhead_p50_within_50ms": results["miss"]["overhead_ms"]["p50"] <= 50,
    }  # fmt: skip
    path = write_results("api", results)
    print_table(console, results)
    console.print(f"results: {path}")


def _digest(key: str) -> str:
    from api.security import hash_key

    return hash_key(key)


def _delete_prefix(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for i in range(0, len(keys), 500):
        client.delete(*keys[i:i + 500])


def print_table(console: Console, r: dict[str, Any]) -> None:
    table = Table(title=f"API benchmark ({r['store']['chunks']} chunks)")
    for column in ("measure", "p50 ms", "p95 ms", "ratio / note"):
        table.add_column(column, justify="right")
    hv, ha = r["hit_vs_floor"], r["hit_vs_floor_with_auth"]
    table.add_row("cache hit (POST /ask)", str(hv["hit_ms"]["p50"]), str(hv["hit_ms"]["p95"]),
                  f"{hv['ratio_p50']}x / {hv['ratio_p95']}x floor")
    table.add_row("floor (bare route, 1 GET)", str(hv["floor_ms"]["p50"]), str(hv["floor_ms"]["p95"]), "")
    table.add_row("cache hit, keys + rate limit", str(ha["hit_ms"]["p50"]), str(ha["hit_ms"]["p95"]),
                  f"{ha['ratio_p50']}x / {ha['ratio_p95']}x floor")
    table.add_row("raw Redis GET (Python)", str(r["redis_get_ms"]["p50"]), str(r["redis_get_ms"]["p95"]), "")
    m = r["miss"]
    table.add_row("cache miss: overhead", str(m["overhead_ms"]["p50"]), str(m["overhead_ms"]["p95"]),
                  f"total p50 {m['total_ms']['p50']} ms, LLM p50 {m['llm_ms']['p50']} ms")
    for name in ("hit", "floor"):
        t = r["throughput"][name]
        table.add_row(f"throughput {name} (c={t['concurrency']})", str(t["p50_ms"]), str(t["p95_ms"]),
                      f"{t['requests_per_s']} req/s, {t['errors']} errors")
    console.print(table)
    sem = Table(title="semantic cache (40 cached questions)")
    for column in ("threshold", "paraphrase hits", "paraphrase wrong hits", "different-question wrong hits"):
        sem.add_column(column, justify="right")
    for row in r["semantic_cache"]["rows"]:
        sem.add_row(str(row["threshold"]), str(row["paraphrase_hit_rate"]), str(row["paraphrase_wrong_hit_rate"]),
                    str(row["different_wrong_hit_rate"]))
    console.print(sem)


if __name__ == "__main__":
    main()
