"""Would re-scoring the fused top candidates by their best sentence pay? Quality and cost, measured.

    .venv/bin/python -m bench.fusion_rescore [--top 10] [--limit 40]

For each dumped study set (`bench.fusion_study dump`), the configured default fuses the two
lists; the top ``--top`` candidates are split into sentences (the splitter extractive answering
uses), each sentence embedded, and a candidate re-scored as ``(1 - beta) * fused + beta *
best-sentence cosine`` (both min-max scaled over the candidates). nDCG@10 (article R@5 for QA-TSV)
per beta, and the time embedding the sentences takes per query, against the query embedding
alone (the yardstick, in the same process). Results: bench/results/fusion-rescore.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import replace

import numpy as np

from bench.common import write_results
from bench.fusion_policies import run_spec
from bench.fusion_study import load_sets, metric
from core.sentences import split_sentences
from core.settings import Settings
from core.stats import percentile
from core.types import ScoredChunk
from retrieval.evaluation import score_ranking
from retrieval.search import drop_near_duplicates

BETAS = (0.0, 0.25, 0.5, 0.75)


def scaled(values: list[float]) -> list[float]:
    low, high = min(values), max(values)
    return [(v - low) / (high - low) if high > low else 1.0 for v in values]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--limit", type=int, default=40, help="queries per set (the first N)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from ingest.embedding import SentenceTransformerEmbedder

    settings = Settings()
    embedder = SentenceTransformerEmbedder.from_settings(settings.embedding)
    policy = run_spec(settings.retrieval.fusion_spec())
    rows: dict[str, dict[str, float]] = {}
    sentence_ms: list[float] = []
    query_ms: list[float] = []
    for study in load_sets():
        sums = dict.fromkeys(BETAS, 0.0)
        items = study.queries[: args.limit]
        for item in items:
            fused = drop_near_duplicates(policy(item), 0.9, keep=100)
            top = fused[: args.top]
            started = time.perf_counter()
            query = embedder.embed_documents([item.query.text])[0]
            query_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            sentences = [[s.text for s in split_sentences(hit.chunk.text)] or [hit.chunk.text] for hit in top]
            vectors = embedder.embed_documents([s for group in sentences for s in group])
            sentence_ms.append((time.perf_counter() - started) * 1000)
            best, at = [], 0
            for group in sentences:
                best.append(float(np.max(vectors[at:at + len(group)] @ query)))
                at += len(group)
            fused_scaled, best_scaled = scaled([h.score for h in top]), scaled(best)
            for beta in BETAS:
                rescored: list[ScoredChunk] = sorted(
                    (replace(h, score=(1 - beta) * f + beta * b) for h, f, b in zip(top, fused_scaled, best_scaled,
                                                                                   strict=True)),
                    key=lambda h: h.score, reverse=True)
                ranked = rescored + fused[args.top:]
                sums[beta] += score_ranking(item.query, ranked, study.kind)[metric(study)]  # type: ignore[arg-type]
        rows[study.name] = {f"beta={b:g}": round(v / len(items), 4) for b, v in sums.items()}
        print(study.name, rows[study.name])
    results = {"top": args.top, "queries_per_set": args.limit, "metric_by_set": rows,
               "sentence_embedding_ms_p50": round(percentile(sentence_ms, 50), 1),
               "query_embedding_ms_p50": round(percentile(query_ms, 50), 1),
               "mean_by_beta": {f"beta={b:g}": round(statistics.mean(r[f"beta={b:g}"] for r in rows.values()), 4)
                                for b in BETAS}}
    results["sentence_over_query_embedding"] = round(
        results["sentence_embedding_ms_p50"] / max(0.1, results["query_embedding_ms_p50"]), 1)
    print(results)
    write_results("fusion-rescore", results)


if __name__ == "__main__":
    main()
