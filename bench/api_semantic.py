"""The semantic answer cache's precision: hit rate on paraphrases, wrong-hit rate on different questions.

    .venv/bin/python -m bench.api_semantic [--redis-url redis://127.0.0.1:6379/0]

Runs the real ``SemanticCache`` against Redis (its own key prefix, removed afterwards) with the
real query embedder. The cache holds the 40 original questions of
``bench/data/semantic-cache-pairs.jsonl``; each paraphrase (same meaning, other words) should hit
its own original, and each *different* question (same topic and words, another meaning: "What do
kangaroos eat?" vs "What eats kangaroos?") should miss. A paraphrase that hits another original
counts as a wrong hit too. ``bench/api.py`` runs this and folds the table into its results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import redis
import redis.asyncio as aioredis

from api.metrics import Metrics
from core.answer_request import AnswerRequest, AnswerShape, answer_key, semantic_scope
from core.protocols import Embedder
from core.stats import percentile
from state.answer_cache import AnswerCache
from state.guard import CircuitBreaker, GuardedRedis
from state.semantic_cache import SemanticCache

PAIRS = Path(__file__).resolve().parent / "data" / "semantic-cache-pairs.jsonl"
THRESHOLDS = (0.80, 0.85, 0.90, 0.925, 0.95, 0.97)
SHAPE = AnswerShape(mode="generative", top_k=6, model="bench", prompt_version="rag-v1")


class FixedVersion:
    """The index version the cache checks: one fixed token, since this bench never writes an index."""

    def version(self, collection: str) -> str:
        return "0"

    def cached_version(self, collection: str) -> str:
        return "0"


def load_pairs(path: Path = PAIRS) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def _evaluate(embedder: Embedder, redis_url: str, prefix: str, pairs: list[dict[str, str]]) -> dict[str, Any]:
    metrics = Metrics()
    client = aioredis.Redis.from_url(redis_url, socket_timeout=1)
    guarded = GuardedRedis(client, CircuitBreaker(), metrics)
    exact = AnswerCache(guarded, FixedVersion(), metrics, prefix=prefix, ttl_s=600, answer_ttl_s=600)
    scope = semantic_scope(AnswerRequest("", "docs"), SHAPE, embedder.identity)
    embed = {kind: [embedder.embed_query(p[kind]) for p in pairs] for kind in ("question", "paraphrase", "different")}
    for i, pair in enumerate(pairs):
        fp = answer_key(AnswerRequest(pair["question"], "docs"), SHAPE)
        await exact.save(fp, "docs", "0", {"answer_id": str(i), "text": pair["question"]}, [])
        writer = SemanticCache(guarded, exact, metrics, prefix=prefix, threshold=1.0, max_entries=10_000, ttl_s=600)
        await writer.add(scope, "0", fp, embed["question"][i])
    rows = []
    latencies: list[float] = []
    for threshold in THRESHOLDS:
        cache = SemanticCache(guarded, exact, metrics, prefix=prefix, threshold=threshold, max_entries=10_000,
                              ttl_s=600)  # fmt: skip
        right = wrong_para = wrong_diff = 0
        for i in range(len(pairs)):
            started = time.perf_counter()
            hit = await cache.lookup(scope, "0", embed["paraphrase"][i])
            latencies.append((time.perf_counter() - started) * 1000)
            if hit is not None:
                right += hit["answer_id"] == str(i)
                wrong_para += hit["answer_id"] != str(i)
            wrong_diff += await cache.lookup(scope, "0", embed["different"][i]) is not None
        n = len(pairs)
        rows.append({"threshold": threshold, "paraphrase_hit_rate": round(right / n, 3),
                     "paraphrase_wrong_hit_rate": round(wrong_para / n, 3),
                     "different_wrong_hit_rate": round(wrong_diff / n, 3)})  # fmt: skip
    sims_para = [float(embed["question"][i] @ embed["paraphrase"][i]) for i in range(len(pairs))]
    sims_diff = [float(embed["question"][i] @ embed["different"][i]) for i in range(len(pairs))]
    await client.aclose()
    return {
        "pairs": len(pairs), "cached_questions": len(pairs), "rows": rows,
        "similarity": {"paraphrase_mean": round(float(np.mean(sims_para)), 3),
                       "paraphrase_min": round(min(sims_para), 3),
                       "different_mean": round(float(np.mean(sims_diff)), 3),
                       "different_max": round(max(sims_diff), 3)},
        "lookup_ms_p50": round(percentile(latencies, 50), 3),
    }  # fmt: skip


def evaluate_semantic_cache(embedder: Embedder, redis_url: str) -> dict[str, Any]:
    prefix = f"ragqa-bench-{uuid.uuid4().hex[:8]}:"
    try:
        return asyncio.run(_evaluate(embedder, redis_url, prefix, load_pairs()))
    finally:
        sync = redis.Redis.from_url(redis_url)
        keys = list(sync.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            sync.delete(*keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    from core.settings import EmbeddingSettings
    from ingest.embedding import SentenceTransformerEmbedder

    result = evaluate_semantic_cache(SentenceTransformerEmbedder.from_settings(EmbeddingSettings()), args.redis_url)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
