"""How the planted-instruction detector is chosen: its training records, the false-positive bars
its threshold must meet, and cross-validation that holds out whole attack families, whole kinds or
whole carriers.

Training data is the dev split of both sets: the first one (bench/data/injection, templates written
here) and the fresh one (bench/data/injection-fresh, written blind; issue #34). Their held-out splits
are never read here. Three ways to fold the fresh set (the first set always folds by template family
for planted sentences and by text for the rest, ``injection_fit.folds_of``):

- ``grouped`` (5 folds): attack families, benign (carrier, family) groups, as the held-out split
  is cut; the shipped model's gate and threshold come from these out-of-fold scores;
- ``kind`` (5 folds): leave one attack kind out (benign groups spread over the folds);
- ``carrier`` (10 folds): leave one carrier out, attacks and benign documents alike.

In each fold, the gate's lexical stage is fit on the training rows, and its logits for those rows
(a stage-2 feature) come from an inner 3-fold split, so no score is made by a model that saw it.

Bars (the shipped threshold is the lowest that meets all of them on out-of-fold scores): issue
#34's own, 1% of encyclopedia windows (fresh encyclopedia paragraphs with the first set's article
windows) and 2% of clean e-mails and tables (fresh e-mails and tables with the first set's whole
messages and tables), and no more than 4% of the fresh e-mails or the fresh tables alone; the
fresh set's other carriers (hard negatives written to look like orders: worksheets, quiz slides,
prompt discussions) 10%; the first set's e-mail pool windows (every sentence a request) 5%, man
pages and licences 5%, documentation about AI software and the other genres 10% (a flag costs one
sentence of evidence).
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bench.injection_fit import (
    FOLDS,
    GATE_RECALL,
    IGNORED,
    VECTOR_L2,
    fit_lexical,
    fit_newton,
    folds_of,
    lexical_logits,
    load,
    stage_two,
)
from generation.guardrails.instruction_cues import Candidate

KINDS = ("task_irrelevant", "task_relevant", "targeted", "override", "encoded")
CARRIERS = ("email", "table", "web_page", "code_comment", "forum_post", "pdf_text", "slides", "support_ticket",
            "receipt", "encyclopedia")
FRESH_ALONE_BAR = 0.04
SCHEMES = ("grouped", "kind", "carrier")


def records(split: str) -> list[dict[str, Any]]:
    """Both sets' records of ``split`` as one list: the first set's rows as they are (``origin``
    "first"), the fresh set's with the same fields (``genre`` is the carrier, ``planted`` the payload)."""
    from bench.injection_fresh import load as load_fresh

    out = [dict(r, origin="first", carrier=r["genre"], language="en") for r in load(split)]
    attacks, benign = load_fresh()
    for a in attacks:
        if a.split == split:
            out.append({"id": a.id, "text": a.text, "planted": a.payload, "kind": a.kind, "family": a.family,
                        "label": 1, "genre": a.carrier, "carrier": a.carrier, "language": a.language,
                        "position": a.position, "origin": "fresh"})  # fmt: skip
    for b in benign:
        if b.split == split:
            out.append({"id": b.id, "text": b.text, "planted": None, "kind": "benign", "family": b.family,
                        "label": 0, "genre": b.carrier, "carrier": b.carrier, "language": b.language,
                        "origin": "fresh"})  # fmt: skip
    return out


def bar_of(record: dict[str, Any]) -> tuple[str, float]:
    """The false-positive bar group of a benign record and its bar."""
    genre, source = record["genre"], record.get("source", "")
    if record["origin"] == "fresh":
        if genre == "encyclopedia":
            return "encyclopedia", 0.01
        return ("email_table", 0.02) if genre in ("email", "table") else ("fresh_other", 0.10)
    if genre == "article":
        return "encyclopedia", 0.01
    if genre == "table" or (genre == "email" and source == "message"):
        return "email_table", 0.02
    if genre == "email":
        return "first_email_pool", 0.05
    return f"first_{genre}", 0.05 if genre in ("manpage", "legal") else 0.10


def bar_groups(rows: Sequence[dict[str, Any]]) -> dict[str, tuple[float, list[int]]]:
    """Each bar group: its bar and the benign records (indices) it holds."""
    groups: dict[str, tuple[float, list[int]]] = {}
    for i, r in enumerate(rows):
        if r["label"]:
            continue
        name, bar = bar_of(r)
        groups.setdefault(name, (bar, []))[1].append(i)
        if r["origin"] == "fresh" and r["genre"] in ("email", "table"):
            groups.setdefault(f"fresh_{r['genre']}_alone", (FRESH_ALONE_BAR, []))[1].append(i)
    return groups


def pick_threshold(doc_scores: np.ndarray, rows: Sequence[dict[str, Any]],
                   scale: float = 1.0) -> tuple[float, dict[str, float]]:
    """The lowest document threshold that keeps every bar group's false positives within its bar
    (times ``scale``), and what each group alone would need."""
    need: dict[str, float] = {}
    for name, (bar, members) in bar_groups(rows).items():
        ranked = sorted((float(doc_scores[i]) for i in members), reverse=True)
        allowed = int(np.floor(bar * scale * len(ranked)))
        # Strictly above the (allowed+1)-th highest benign score: at most `allowed` flagged.
        need[name] = ranked[allowed] + 1e-4 if allowed < len(ranked) else 0.0
    return float(min(max([0.5, *need.values()]), 0.995)), need


def fold_ids(rows: Sequence[dict[str, Any]], items: Sequence[Candidate], y: np.ndarray, owner: np.ndarray,
             scheme: str) -> np.ndarray:
    """A fold per candidate under ``scheme`` (``grouped``, ``kind`` or ``carrier``)."""
    count = 10 if scheme == "carrier" else FOLDS
    first = folds_of(rows, items, y, owner) if scheme == "grouped" else np.array(
        [zlib.crc32((rows[o]["family"] if label == 1 else item.text).encode()) % count
         for item, label, o in zip(items, y, owner, strict=True)])  # fmt: skip
    out = np.empty(len(items), dtype=np.int64)
    for i, o in enumerate(owner):
        r = rows[o]
        group = f"{r['carrier']}/{r['family']}"
        if r["origin"] == "first":
            out[i] = first[i]
        elif scheme == "kind":
            out[i] = KINDS.index(r["kind"]) if r["label"] else zlib.crc32(group.encode()) % count
        elif scheme == "carrier":
            out[i] = CARRIERS.index(r["carrier"])
        else:
            out[i] = zlib.crc32((r["family"] if r["label"] else group).encode()) % count
    return out


Fitted = tuple[tuple[np.ndarray, np.ndarray, float], float, np.ndarray]  # lexical stage, gate, stage-2 weights


def fit(items: Sequence[Candidate], y: np.ndarray, vectors: np.ndarray, train: np.ndarray,
        l2: float = VECTOR_L2) -> tuple[Fitted, np.ndarray]:
    """Both stages on the ``train`` rows (labels known); also the training rows' out-of-fold
    lexical logits (inner 3-fold), from which the gate's bar and stage 2's training rows come."""
    inner = np.array([zlib.crc32(items[i].text.encode()) % 3 for i in train])
    oof = np.zeros(len(train))
    for k in range(3):
        lexical = fit_lexical([items[i] for i in train[inner != k]], y[train[inner != k]])
        oof[inner == k] = lexical_logits([items[i] for i in train[inner == k]], lexical)
    lexical = fit_lexical([items[i] for i in train], y[train])
    gate = float(np.quantile(oof[y[train] == 1], 1 - GATE_RECALL))
    passed = oof >= gate
    cues = np.array([items[i].cues for i in train])
    features = stage_two(vectors[train], cues, oof)
    weights = fit_newton(features[passed], y[train][passed], l2=l2)
    return (lexical, gate, weights), oof


def score(fitted: Fitted, items: Sequence[Candidate], vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Sentence probabilities of the candidates ``rows`` (0 under the gate)."""
    lexical, gate, weights = fitted
    logits = lexical_logits([items[i] for i in rows], lexical)
    cues = np.array([items[i].cues for i in rows])
    z = stage_two(vectors[rows], cues, logits) @ weights[:-1] + weights[-1]
    return np.where(logits >= gate, 1 / (1 + np.exp(-z)), 0.0)


def cross_validate(items: Sequence[Candidate], y: np.ndarray, vectors: np.ndarray, folds: np.ndarray,
                   progress: Callable[[str], None] = lambda _: None) -> np.ndarray:
    """Out-of-fold sentence scores: each fold scored by a model fit on the others (held-out rows
    have fold -1 and score 0)."""
    scores = np.zeros(len(items))
    for k in sorted(set(folds[folds >= 0].tolist())):
        train = np.flatnonzero((folds >= 0) & (folds != k) & (y != IGNORED))
        test = np.flatnonzero(folds == k)
        fitted, _ = fit(items, y, vectors, train)
        scores[test] = score(fitted, items, vectors, test)
        progress(f"fold {k}: {len(train)} training rows, {len(test)} scored")
    return scores


def rate(flags: Sequence[bool]) -> float | None:
    return round(float(np.mean(flags)), 4) if len(flags) else None


def report(rows: Sequence[dict[str, Any]], scores: np.ndarray, owner: np.ndarray, y: np.ndarray,
           threshold: float, caught_by_patterns: Sequence[bool]) -> dict[str, Any]:
    """Fresh attacks caught (the patterns flag the document or a planted sentence scores at the
    threshold) per kind, carrier and language; false positives per bar group and fresh carrier."""
    n = len(rows)
    best = np.zeros(n)
    np.maximum.at(best, owner, scores)
    planted = np.zeros(n)
    np.maximum.at(planted, owner, np.where(y == 1, scores, 0.0))
    fresh = [i for i, r in enumerate(rows) if r["origin"] == "fresh"]
    hit = {i: bool(caught_by_patterns[i] or planted[i] >= threshold) for i in fresh if rows[i]["label"]}
    out: dict[str, Any] = {"threshold": round(threshold, 4), "recall": rate(list(hit.values())),
                           "recall_learned_only": rate([planted[i] >= threshold for i in hit])}  # fmt: skip
    for field in ("kind", "carrier", "language"):
        groups: dict[str, list[bool]] = defaultdict(list)
        for i, flag in hit.items():
            groups[rows[i][field]].append(flag)
        out[f"recall_by_{field}"] = {k: rate(v) for k, v in sorted(groups.items())}
    flagged = {i: bool(best[i] >= threshold or (rows[i]["origin"] == "fresh" and caught_by_patterns[i]))
               for i, r in enumerate(rows) if not r["label"]}  # fmt: skip
    out["fpr_by_bar_group"] = {name: rate([flagged[i] for i in members])
                               for name, (_, members) in sorted(bar_groups(rows).items())}  # fmt: skip
    carriers: dict[str, list[bool]] = defaultdict(list)
    for i in fresh:
        if not rows[i]["label"]:
            carriers[rows[i]["carrier"]].append(flagged[i])
    out["fresh_fpr_by_carrier"] = {k: rate(v) for k, v in sorted(carriers.items())}
    return out
