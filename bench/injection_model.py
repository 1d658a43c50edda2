"""Trains the planted-instruction detector (generation/guardrails/instruction_model.json).

    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.injection_model

Data: the dev split of bench/data/injection/injection.jsonl only (the held-out split is for
bench/guardrails.py). A sentence is positive when it overlaps the planted instruction; every
other sentence (benign windows and the carrier around a planted order) is negative. Both stages
are L2-regularized logistic regressions, numpy only, deterministic:

1. lexical gate over hashed n-grams + cues (Adam, full batch, fixed iterations); its bar is the
   out-of-fold logit that keeps ``GATE_RECALL`` of the positive sentences;
2. embedding (a second copy for imperative sentences) + cues + the (out-of-fold) gate logit
   (Newton).

The chunk threshold is chosen on out-of-fold chunk scores (5 folds: attacks grouped by template
family, so a fold never sees its own phrasings) for the FPR bars with margin.

Sentence vectors (the first ``LAYERS`` layers of the packaged int8 MiniLM) are cached in
``$TMPDIR/ragqa-injection-vectors-<embedder>.npz`` (keyed by the encoder and the int8 recipe), so
a retrain after a data change embeds only the new sentences.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import zlib
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT
from core.sentences import split_sentences
from generation.guardrails.instruction_cues import CUES, Candidate, candidates, hashed
from generation.guardrails.instructions import MODEL_FILE, Vectors

DATA = ROOT / "bench" / "data" / "injection" / "injection.jsonl"
BUCKETS = 4096
FOLDS = 5
IGNORED = -1
BY_CUE = [c.name for c in CUES].index("imperative")  # the cue whose sentences get their own embedding weights
GATE_RECALL = 0.97
# Of MiniLM's 6 layers, the ones whose output the detector reads (``OnnxEmbedder.first_layers``).
# Out of fold on dev, at the bars below: 2 layers 0.742 recall, 3: 0.764, 4: 0.793, all 6: 0.762;
# a sentence costs 2/3 of the full model's time at 4.
LAYERS = 4
LEXICAL_L2, VECTOR_L2 = 1e-3, 1.0
# Bars on dev (out of fold; pool sentences never scored by a model that saw them), by genre or by
# genre/source. The genres the issue sets bars for keep a margin under them: articles (bar 1%),
# whole emails (``email/message``) and tables (bar 5%); windows sampled from the email request
# pools (``pool``: every sentence a request, a stress test no real inbox matches) get the issue's
# email bar itself; documentation about AI
# software (``aidoc``, 5-8 sentences a window) stays near the 2% of sentences asked of this
# project's own docs. The other genres are hard negatives with no bar of
# their own: a flag costs one sentence of evidence, so they get the most room.
FPR_BARS = {"article": 0.005, "email/message": 0.03, "email/pool": 0.05, "table": 0.03, "aidoc": 0.1,
            "manpage": 0.04, "legal": 0.04, "*": 0.1}


def bar_of(record: dict[str, Any]) -> tuple[str, float]:
    """The FPR bar group of a benign record and its bar."""
    for key in (f"{record['genre']}/{record.get('source', '')}", record["genre"]):
        if key in FPR_BARS:
            return key, FPR_BARS[key]
    return record["genre"], FPR_BARS["*"]


def cached_vectors(vectors: Vectors, key: str) -> Vectors:
    """``vectors`` behind a text-keyed cache kept in a file under the temp folder (one per ``key``)."""
    path = Path(tempfile.gettempdir()) / f"ragqa-injection-vectors-{hashlib.sha1(key.encode()).hexdigest()[:10]}.npz"
    memo: dict[str, np.ndarray] = {}
    if path.exists():
        stored = np.load(path)
        memo.update(zip(json.loads(str(stored["texts"])), stored["vectors"], strict=True))

    def embed(texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in memo]
        if missing:
            memo.update(zip(missing, np.asarray(vectors(missing), dtype=np.float32), strict=True))
            np.savez(path, texts=json.dumps(list(memo)), vectors=np.array(list(memo.values())))
        return np.vstack([memo[t] for t in texts]) if texts else np.zeros((0, 0), dtype=np.float32)

    return embed


def load(split: str, path: Path = DATA) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r["split"] == split]


def labelled_candidates(records: Sequence[dict[str, Any]]) -> tuple[list[Candidate], np.ndarray, np.ndarray]:
    """Candidates of every record, their sentence labels, and the record each came from.

    Label 1: the sentence overlaps the planted order; 0: it does not; ``IGNORED`` (-1): the
    set-up half of an order split across sentences ("Attention, language model."), which only
    addresses an AI: the order is in the second half, and training on the first as an attack
    would teach the model that any sentence about an AI is one (documentation about AI software).
    """
    items: list[Candidate] = []
    labels: list[int] = []
    owner: list[int] = []
    for n, record in enumerate(records):
        text, planted = record["text"], record.get("planted")
        p0 = text.find(planted) if planted else -1
        p1 = p0 + len(planted) if planted else -1
        setup = p0
        if planted and record.get("kind") == "split_across_sentences":
            setup = p0 + split_sentences(planted)[0].end
        sentence_label: dict[str, int] = {}
        for item in candidates([text]):
            if item.decoded:  # a decoded view is what its sentence hides: the sentence's label
                label = sentence_label.get(item.sentence, 0)
            else:
                end = item.start + len(item.text)
                label = int(p0 >= 0 and item.start < p1 and end > p0)
                if label and end <= setup:
                    label = IGNORED
                if item.text == item.sentence:
                    sentence_label[item.sentence] = label
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
    """The lowest chunk threshold that keeps every bar group's dev FPR under its bar."""
    benign_by_group: dict[str, list[float]] = defaultdict(list)
    bars: dict[str, float] = {}
    for score, record in zip(scores, records, strict=True):
        if not record["label"]:
            group, bars[group] = bar_of(record)
            benign_by_group[group].append(float(score))
    needed = 0.5
    for group, values in benign_by_group.items():
        allowed = int(np.floor(bars[group] * len(values)))
        ranked = sorted(values, reverse=True)
        # Strictly above the (allowed+1)-th highest benign score: at most `allowed` flagged.
        needed = max(needed, ranked[allowed] + 1e-4 if allowed < len(ranked) else 0.0)
    return float(min(needed, 0.99))


def stage_two(vectors: np.ndarray, cues: np.ndarray, lexical: np.ndarray) -> np.ndarray:
    """Stage-2 features: the embedding, the embedding again where the sentence is imperative
    (``InstructionModel.vector_by_cue``), the cues and the stage-1 logit."""
    return np.column_stack([vectors, vectors * cues[:, [BY_CUE]], cues, lexical])


def report(scores: np.ndarray, records: Sequence[dict[str, Any]], threshold: float) -> None:
    """Out-of-fold dev recall per kind and FPR per bar group at ``threshold``."""
    flagged = scores >= threshold
    groups: dict[str, list[bool]] = defaultdict(list)
    for flag, record in zip(flagged, records, strict=True):
        groups[record["kind"] if record["label"] else f"FPR {bar_of(record)[0]}"].append(bool(flag))
    for name, flags in sorted(groups.items()):
        print(f"  {name:<28} {sum(flags):>4}/{len(flags):<4} {np.mean(flags):.3f}")


def main() -> None:
    from ingest.onnx_embedding import OnnxEmbedder
    from ingest.onnx_quantize import RECIPE

    records = load("dev")
    items, y, owner = labelled_candidates(records)
    fold = folds_of(records, items, y, owner)
    print(f"dev: {len(records)} windows, {len(items)} candidates, {int((y == 1).sum())} positive sentences")

    known = y != IGNORED
    oof_lex = np.zeros(len(items))
    for k in range(FOLDS):
        train = known & (fold != k)
        fit = fit_lexical([items[i] for i in np.flatnonzero(train)], y[train])
        oof_lex[fold == k] = lexical_logits([items[i] for i in np.flatnonzero(fold == k)], fit)
    gate = float(np.quantile(oof_lex[y == 1], 1 - GATE_RECALL))
    passed = oof_lex >= gate
    print(f"gate {gate:.3f}: passes {passed[y == 1].mean():.3f} of positive, {passed[y == 0].mean():.3f} of negative")

    embedder = OnnxEmbedder.first_layers(LAYERS)
    print(f"embedder: {embedder.identity}")
    embed = cached_vectors(embedder.embed_documents, f"{embedder.identity}:{RECIPE}")
    picked = np.flatnonzero(passed)
    vectors = np.zeros((len(items), embedder.dimension))
    vectors[picked] = embed([items[i].text for i in picked])
    features = stage_two(vectors, np.array([c.cues for c in items]), oof_lex)

    oof = np.zeros(len(items))
    for k in range(FOLDS):
        train = passed & known & (fold != k)
        test = passed & (fold == k)
        w = fit_newton(features[train], y[train])
        oof[test] = 1 / (1 + np.exp(-(features[test] @ w[:-1] + w[-1])))
    scores = chunk_scores(oof, owner, len(records))
    threshold = pick_threshold(scores, records)
    labels = np.array([r["label"] for r in records])
    print(f"threshold {threshold:.3f}: out-of-fold dev recall {(scores[labels == 1] >= threshold).mean():.3f}, "
          f"FPR {(scores[labels == 0] >= threshold).mean():.4f}")
    report(scores, records, threshold)

    final_lex = fit_lexical([items[i] for i in np.flatnonzero(known)], y[known])
    w = fit_newton(features[passed & known], y[passed & known])
    dim = embedder.dimension

    def rounded(values: np.ndarray) -> list[float]:
        return [round(float(x), 4) for x in values]

    model = {
        "about": "planted-instruction detector; trained by bench/injection_model.py on the dev split",
        "embedder": embedder.identity, "layers": LAYERS, "buckets": BUCKETS, "gate_recall": GATE_RECALL,
        "lexical": rounded(final_lex[0]), "lexical_cues": rounded(final_lex[1]),
        "lexical_bias": round(final_lex[2], 4), "gate": round(gate, 4),
        "vector": rounded(w[:dim]), "vector_by_cue": rounded(w[dim : 2 * dim]), "by_cue": BY_CUE,
        "cue_weights": rounded(w[2 * dim : -1]), "bias": round(float(w[-1]), 4), "threshold": round(threshold, 4),
    }  # fmt: skip
    MODEL_FILE.write_text(json.dumps(model, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {MODEL_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
