"""Trains the planted-instruction detector (generation/guardrails/instruction_model.json).

    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.injection_model

Data: the dev split of bench/data/injection/injection.jsonl only (the held-out split is for
bench/guardrails.py). A sentence is positive when it overlaps the planted instruction; every
other sentence (benign windows and the carrier around a planted order) is negative. Both stages
are L2-regularized logistic regressions, numpy only, deterministic:

1. lexical gate over hashed n-grams + cues (Adam, full batch, fixed iterations); its bar is the
   out-of-fold logit that keeps ``GATE_RECALL`` of the positive sentences;
2. embedding + cues + the (out-of-fold) gate logit (Newton).

The chunk threshold is chosen on out-of-fold chunk scores (5 folds: attacks grouped by template
family, so a fold never sees its own phrasings) for the FPR bars with margin.
"""

from __future__ import annotations

import json
import zlib
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT
from generation.guardrails.instructions import MODEL_FILE, Candidate, candidates, hashed

DATA = ROOT / "bench" / "data" / "injection" / "injection.jsonl"
BUCKETS = 4096
FOLDS = 5
GATE_RECALL = 0.97
LEXICAL_L2, VECTOR_L2 = 1e-3, 1.0
# Bars on dev (out of fold; pool sentences never scored by a model that saw them): articles and
# tables under their targets for margin; the hand-written genres trade some FPR for recall.
FPR_BARS = {"article": 0.005, "manpage": 0.02, "legal": 0.02, "email": 0.04, "table": 0.03, "*": 0.08}


def load(split: str, path: Path = DATA) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r["split"] == split]


def labelled_candidates(records: Sequence[dict[str, Any]]) -> tuple[list[Candidate], np.ndarray, np.ndarray]:
    """Candidates of every record, their sentence labels, and the record each came from."""
    items: list[Candidate] = []
    labels: list[int] = []
    owner: list[int] = []
    for n, record in enumerate(records):
        text, planted = record["text"], record.get("planted")
        p0 = text.find(planted) if planted else -1
        p1 = p0 + len(planted) if planted else -1
        cursor, label = 0, 0
        for item in candidates([text]):
            if not item.decoded:
                start = text.find(item.text, cursor)
                start = cursor if start < 0 else start
                cursor = start + len(item.text)
                label = int(p0 >= 0 and start < p1 and cursor > p0)
            items.append(item)
            labels.append(label)
            owner.append(n)
    return items, np.array(labels), np.array(owner)


def folds_of(records: Sequence[dict[str, Any]], items: Sequence[Candidate], y: np.ndarray,
             owner: np.ndarray) -> np.ndarray:
    """A fold per candidate: planted sentences by template family, the rest by their own text.

    Hand-written pool sentences recur across windows; folding by window would score them with a
    model that saw them, and the threshold picked on such scores is optimistic on new sentences.
    """
    keys = [records[o]["family"] if label else item.text for item, label, o in zip(items, y, owner, strict=True)]
    return np.array([zlib.crc32(k.encode()) % FOLDS for k in keys])


def fit_lexical(items: Sequence[Candidate], y: np.ndarray, iters: int = 400) -> tuple[np.ndarray, np.ndarray, float]:
    """Stage 1: sparse hashed n-grams + cues, Adam on the mean log-loss (+ L2), class-balanced."""
    rows_list = [hashed(c.text, BUCKETS) for c in items]
    rows = np.repeat(np.arange(len(items)), [len(r) for r in rows_list])
    cols = np.concatenate(rows_list) if rows_list else np.zeros(0, dtype=np.int64)
    cues = np.array([c.cues for c in items])
    weight = np.where(y == 1, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9)) / len(y)
    params = np.zeros(BUCKETS + cues.shape[1] + 1)
    m, v = np.zeros_like(params), np.zeros_like(params)
    for t in range(1, iters + 1):
        w, wc, b = params[:BUCKETS], params[BUCKETS:-1], params[-1]
        logits = np.bincount(rows, weights=w[cols], minlength=len(items)) + cues @ wc + b
        err = (1 / (1 + np.exp(-logits)) - y) * weight
        grad = np.concatenate([np.bincount(cols, weights=err[rows], minlength=BUCKETS), cues.T @ err, [err.sum()]])
        grad[:-1] += LEXICAL_L2 * params[:-1]
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        params -= 0.05 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return params[:BUCKETS], params[BUCKETS:-1], float(params[-1])


def lexical_logits(items: Sequence[Candidate], fit: tuple[np.ndarray, np.ndarray, float]) -> np.ndarray:
    w, wc, b = fit
    return np.array([w[hashed(c.text, BUCKETS)].sum() + float(np.dot(wc, c.cues)) + b for c in items])


def fit_newton(x: np.ndarray, y: np.ndarray, l2: float = VECTOR_L2, iters: int = 25) -> np.ndarray:
    """Stage 2: class-balanced L2 logistic regression by Newton's method; the last weight is the bias."""
    x1 = np.column_stack([x, np.ones(len(x))])
    sample = np.where(y == 1, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
    w = np.zeros(x1.shape[1])
    reg = np.full(x1.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(x1 @ w)))
        grad = x1.T @ ((p - y) * sample) + reg * w
        hess = (x1 * (p * (1 - p) * sample)[:, None]).T @ x1 + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-7:
            break
    return w


def chunk_scores(scores: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    best = np.zeros(n)
    np.maximum.at(best, owner, scores)
    return best


def pick_threshold(scores: np.ndarray, records: Sequence[dict[str, Any]]) -> float:
    """The lowest chunk threshold that keeps every genre's dev FPR under its bar."""
    benign_by_genre: dict[str, list[float]] = defaultdict(list)
    for score, record in zip(scores, records, strict=True):
        if not record["label"]:
            benign_by_genre[record["genre"]].append(float(score))
    needed = 0.5
    for genre, values in benign_by_genre.items():
        bar = FPR_BARS.get(genre, FPR_BARS["*"])
        allowed = int(np.floor(bar * len(values)))
        ranked = sorted(values, reverse=True)
        # Strictly above the (allowed+1)-th highest benign score: at most `allowed` flagged.
        needed = max(needed, ranked[allowed] + 1e-4 if allowed < len(ranked) else 0.0)
    return float(min(needed, 0.99))


def main() -> None:
    from core.settings import EmbeddingSettings
    from ingest.embedding import SentenceTransformerEmbedder

    records = load("dev")
    items, y, owner = labelled_candidates(records)
    fold = folds_of(records, items, y, owner)
    print(f"dev: {len(records)} windows, {len(items)} candidates, {int(y.sum())} positive sentences")

    oof_lex = np.zeros(len(items))
    for k in range(FOLDS):
        train = fold != k
        fit = fit_lexical([items[i] for i in np.flatnonzero(train)], y[train])
        oof_lex[~train] = lexical_logits([items[i] for i in np.flatnonzero(~train)], fit)
    gate = float(np.quantile(oof_lex[y == 1], 1 - GATE_RECALL))
    passed = oof_lex >= gate
    print(f"gate {gate:.3f}: passes {passed[y == 1].mean():.3f} of positive, {passed[y == 0].mean():.3f} of negative")

    embedder = SentenceTransformerEmbedder.from_settings(EmbeddingSettings())
    picked = np.flatnonzero(passed)
    vectors = np.zeros((len(items), embedder.dimension))
    vectors[picked] = embedder.embed_documents([items[i].text for i in picked])
    cues = np.array([c.cues for c in items])
    features = np.column_stack([vectors, cues, oof_lex])

    oof = np.zeros(len(items))
    for k in range(FOLDS):
        train = passed & (fold != k)
        test = passed & (fold == k)
        w = fit_newton(features[train], y[train])
        oof[test] = 1 / (1 + np.exp(-(features[test] @ w[:-1] + w[-1])))
    threshold = pick_threshold(chunk_scores(oof, owner, len(records)), records)
    labels = np.array([r["label"] for r in records])
    flagged = chunk_scores(oof, owner, len(records)) >= threshold
    print(f"threshold {threshold:.3f}: out-of-fold dev recall {flagged[labels == 1].mean():.3f}, "
          f"FPR {flagged[labels == 0].mean():.4f}")

    final_lex = fit_lexical(items, y)
    w = fit_newton(features[passed], y[passed])
    dim = embedder.dimension
    model = {
        "about": "planted-instruction detector; trained by bench/injection_model.py on the dev split",
        "buckets": BUCKETS, "gate_recall": GATE_RECALL,
        "lexical": [round(float(x), 4) for x in final_lex[0]],
        "lexical_cues": [round(float(x), 4) for x in final_lex[1]], "lexical_bias": round(final_lex[2], 4),
        "gate": round(gate, 4), "vector": [round(float(x), 4) for x in w[:dim]],
        "cue_weights": [round(float(x), 4) for x in w[dim:-1]], "bias": round(float(w[-1]), 4),
        "threshold": round(threshold, 4),
    }  # fmt: skip
    MODEL_FILE.write_text(json.dumps(model, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {MODEL_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
