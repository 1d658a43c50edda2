"""What extractive answering adds to retrieval, per question, in one process.

    .venv/bin/python -m bench.answers [--articles 8] [--questions 100] [--threads 1]

Ingests cmu-qa-dev articles into a temporary embedded store, then for each question runs the
retriever alone (the yardstick) and the whole extractive answer (guards, retrieval, sentence
evidence, composition), alternating, with the query and sentence caches cleared so every
question pays the full cost. Torch runs on ``--threads`` threads, as the API configures it
(``api.torch_threads``, 1 by default). Bar (issue #13): the extractive answer adds <= 150 ms p50
to retrieval. Results: bench/results/answers.json.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.common import write_results
from bootstrap.components import Components
from core.answer_request import AnswerRequest
from core.logging import configure_logging
from core.settings import Settings
from core.stats import percentile
from ingest.sources import dataset_sources
from retrieval.evaluation import EvalDataset, load_qa_tsv

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "cmu-qa-dev" / "qa.tsv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qa", type=Path, default=SHARED)
    parser.add_argument("--articles", type=int, default=8)
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-embedded", type=int, default=None,
                        help="Sentences embedded per question (default: answer.max_embedded_sentences).")
    args = parser.parse_args()
    configure_logging("WARNING")
    dataset = load_qa_tsv(args.qa)
    rng = random.Random(20261202)
    docs = rng.sample(sorted(dataset.documents, key=lambda d: d.doc_id), args.articles)
    ids = {d.doc_id for d in docs}
    questions = [q.text for q in dataset.queries if set(q.relevant) & ids]
    questions = rng.sample(questions, min(args.questions, len(questions)))
    retrieve_ms: list[float] = []
    answer_ms: list[float] = []
    stages: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(qdrant={"path": Path(tmp) / "q"}, redis={"embedded_path": Path(tmp) / "r.rdb"},
                            answer={"mode": "extractive"} | ({} if args.max_embedded is None
                                                             else {"max_embedded_sentences": args.max_embedded}))
        with Components(settings) as parts:
            parts.embedder.set_threads(args.threads)  # as the API does (api.torch_threads)
            parts.pipeline.ingest(dataset_sources(EvalDataset(dataset.name, dataset.kind, docs)), "bench")
            answerer, retriever = parts.answerer, parts.retriever
            answerer.ask(AnswerRequest(questions[0], "bench"))  # warm-up: first-call allocations
            for question in questions:
                parts.embedder._cache.clear()  # time the real embedding every time
                started = time.perf_counter()
                retriever.search(question, "bench", top_k=answerer.top_k)
                retrieve_ms.append((time.perf_counter() - started) * 1000)
                if answerer.preparation.evidence is not None:
                    answerer.preparation.evidence.clear_cache()
                parts.embedder._cache.clear()
                started = time.perf_counter()
                answer = answerer.ask(AnswerRequest(question, "bench"))
                answer_ms.append((time.perf_counter() - started) * 1000)
                for stage in ("retrieve", "context_guard", "evidence", "compose"):
                    if stage in answer.timings_ms:
                        stages.setdefault(stage, []).append(answer.timings_ms[stage])
    added = [a - r for a, r in zip(answer_ms, retrieve_ms, strict=True)]
    summary = {
        "retrieve_p50_ms": round(percentile(retrieve_ms, 50), 2),
        "answer_p50_ms": round(percentile(answer_ms, 50), 2),
        "added_p50_ms": round(percentile(added, 50), 2), "added_p95_ms": round(percentile(added, 95), 2),
        "ratio_answer_to_retrieve_p50": round(percentile(answer_ms, 50) / percentile(retrieve_ms, 50), 3),
        "stage_p50_ms": {k: round(percentile(v, 50), 2) for k, v in stages.items()},
        "bar_added_p50_ms": 150,
    }
    write_results("answers", {"inputs": {"articles": sorted(ids), "questions": len(questions),
                                         "threads": args.threads, "mode": "extractive",
                                         "max_embedded_sentences": settings.answer.max_embedded_sentences},
                                         "results": summary})
    table = Table(title=f"extractive answers vs retrieval alone, {len(questions)} questions, {args.threads} thread(s)")
    for column in ("retrieve p50", "answer p50", "added p50", "added p95", "evidence p50"):
        table.add_column(column, justify="right")
    table.add_row(*(f"{x:.1f} ms" for x in (summary["retrieve_p50_ms"], summary["answer_p50_ms"],
                                            summary["added_p50_ms"], summary["added_p95_ms"],
                                            summary["stage_p50_ms"].get("evidence", 0.0))))
    Console().print(table)


if __name__ == "__main__":
    main()
