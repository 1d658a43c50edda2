"""Fits the evidence models (``generation/evidence_model.json``) and reports how they do.

    python -m bench.evidence_model [--qa ../shared/data/cmu-qa-dev/qa.tsv] [--write]
                                   [--cache retrieved.pkl] [--store folder]

Ingests cmu-qa-dev into an embedded store (temporary unless ``--store``) and retrieves, for every
question with a gold answer, the default top 5 chunks of the whole corpus (``full``), the
production top_k with its article and 7 others (``sub``) and with 8 other articles only
(``near``: the documents don't answer it). Whole articles are held out: those whose doc_id
hashes to 0 mod 4 never reach a fit, and every figure is reported on them apart.

- The sentence model: each sentence of ``full`` is labelled by whether it holds a normalized
  gold answer (yes/no questions left out); an L2-regularized logistic regression (Newton's
  method, deterministic) over ``generation.evidence.FEATURES``. Reported: the extractive answer's
  first sentence and any of its sentences holding the answer, against cosine alone.
- The answerability model: ``sub`` (1) against ``near`` (0), over
  ``generation.answerability.FEATURES``; its floor refuses 5% of answerable training questions.
  Reported: false and correct refusals, against the best sentence's score alone as the floor.
- Attribution: a gold answer written as a sentence, with the answer-bearing chunks of its own
  article (supported) or the ``near`` chunks (unsupported); accuracy of ``supported``.

``--write`` saves both models; the JSON results go to ``bench/results/evidence_model.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import random
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import write_results
from bootstrap.components import Components
from core.answer_settings import AnswerSettings
from core.settings import Settings
from core.types import ScoredChunk, SearchFilters
from generation.answerability import FEATURES as ANSWERABILITY_FEATURES
from generation.answerability import AnswerabilityModel, answerability_features
from generation.attribution import Attributor
from generation.evaluation import normalize_answer
from generation.evidence import FEATURES, MODEL_FILE, Evidence, EvidenceModel, EvidenceScorer
from generation.extractive import pick_sentences
from ingest.sources import dataset_sources
from retrieval.evaluation import EvalQuery, informative_answers, load_qa_tsv

REPO = Path(__file__).resolve().parents[1]
DEFAULT_QA = REPO.parent / "shared" / "data" / "cmu-qa-dev" / "qa.tsv"
TOP_K = 5


def held_out(doc_id: str) -> bool:
    return int(hashlib.sha256(doc_id.encode()).hexdigest(), 16) % 4 == 0


def holds_answer(sentence: str, answers: Sequence[str]) -> bool:
    text = f" {normalize_answer(sentence)} "
    return any(f" {a} " in text for a in (normalize_answer(x) for x in answers) if a)


@dataclass(slots=True)
class QuestionRows:
    query: EvalQuery
    doc_id: str
    features: np.ndarray
    labels: np.ndarray
    evidence: list[Evidence]


def composed_live(retrieved: Sequence[Retrieval], scorer: EvidenceScorer, answer: AnswerSettings) -> dict[str, float]:
    """The extractive answer as the service composes it (the embedding cap included)."""
    first = any_sentence = 0
    for item in retrieved:
        picked = pick_sentences(scorer.rank(item.query.text, item.full), answer.max_sentences, answer.sentence_ratio)
        hits = [holds_answer(e.text, item.query.answers) for e in picked]
        first += int(bool(hits) and hits[0])
        any_sentence += int(any(hits))
    n = max(len(retrieved), 1)
    return {"first_sentence": round(first / n, 4), "any_sentence": round(any_sentence / n, 4),
            "questions": len(retrieved), "max_embedded": scorer.max_embedded}


def composed(rows: Sequence[QuestionRows], model: EvidenceModel, max_sentences: int, ratio: float) -> dict[str, float]:
    """What the extractive answer itself holds: its first sentence, and any of its sentences."""
    first = any_sentence = 0
    for q in rows:
        scores = model.probabilities(q.features)
        rescored = sorted((replace(e, score=float(p)) for e, p in zip(q.evidence, scores, strict=True)),
                          key=lambda e: -e.score)
        picked = pick_sentences(rescored, max_sentences, ratio)
        hits = [holds_answer(e.text, q.query.answers) for e in picked]
        first += int(bool(hits) and hits[0])
        any_sentence += int(any(hits))
    n = max(len(rows), 1)
    return {"first_sentence": round(first / n, 4), "any_sentence": round(any_sentence / n, 4), "questions": len(rows)}


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 50) -> tuple[np.ndarray, float]:
    """Newton's method on the L2-penalized log loss (the bias is not penalized)."""
    design = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(design @ w)))
        grad = design.T @ (p - y) + penalty * w
        hess = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def top_hits(rows: Sequence[QuestionRows], model: EvidenceModel, k: int) -> dict[str, float]:
    """Share of questions whose best sentence / one of the best ``k`` holds the answer."""
    first = any_k = ceiling = 0
    for q in rows:
        order = np.argsort(-model.probabilities(q.features), kind="stable")
        first += int(q.labels[order[0]])
        any_k += int(q.labels[order[:k]].any())
        ceiling += int(q.labels.any())
    n = max(len(rows), 1)
    return {"first": round(first / n, 4), f"any_of_{k}": round(any_k / n, 4), "ceiling": round(ceiling / n, 4),
            "questions": len(rows)}


@dataclass(slots=True)
class Retrieval:
    """One question's chunks: ``full`` (top 5 of every article), ``sub`` (its article and 7 others,
    the production top_k) and ``near`` (8 other articles only: the documents don't answer it)."""

    query: EvalQuery
    full: list[ScoredChunk]
    sub: list[ScoredChunk]
    near: list[ScoredChunk]


def retrieve(qa: Path, parts: Components, top_k: int) -> list[Retrieval]:
    dataset = load_qa_tsv(qa)
    parts.pipeline.ingest(dataset_sources(dataset), "evidence")
    ids = sorted(d.doc_id for d in dataset.documents)
    rng = random.Random(20261202)
    out = []
    for query in dataset.queries:
        if not query.answers:
            continue
        own = next(iter(query.relevant))
        others = [d for d in ids if d != own]
        sub = SearchFilters(doc_ids=(own, *rng.sample(others, 7)))
        near = SearchFilters(doc_ids=tuple(rng.sample(others, 8)))
        out.append(Retrieval(query, parts.retriever.search(query.text, "evidence", top_k=TOP_K),
                             parts.retriever.search(query.text, "evidence", top_k=top_k, filters=sub),
                             parts.retriever.search(query.text, "evidence", top_k=top_k, filters=near)))
    return out


def featurize(retrieved: Sequence[Retrieval], scorer: EvidenceScorer) -> list[QuestionRows]:
    rows: list[QuestionRows] = []
    for item in retrieved:
        if not informative_answers(item.query):
            continue
        ranked = scorer.rank(item.query.text, item.full)
        if ranked:
            labels = np.array([holds_answer(e.text, item.query.answers) for e in ranked], dtype=np.float64)
            rows.append(QuestionRows(item.query, next(iter(item.query.relevant)),
                                     np.array([e.features for e in ranked]), labels, ranked))
    return rows


def answerability(retrieved: Sequence[Retrieval], scorer: EvidenceScorer,
                  target_false_refusals: float = 0.05) -> tuple[AnswerabilityModel, dict[str, Any]]:
    """Fits the answerability model on questions asked with their article ingested (answerable)
    and without it (near-domain), on the training articles; its floor refuses
    ``target_false_refusals`` of the answerable training questions. Reported on both parts, and
    against the best sentence's score alone as the floor."""
    rows: dict[str, list[tuple[np.ndarray, float, int]]] = {"train": [], "held_out": []}
    for item in retrieved:
        part = rows["held_out" if held_out(next(iter(item.query.relevant))) else "train"]
        for label, chunks in ((1, item.sub), (0, item.near)):
            ranked = scorer.rank(item.query.text, chunks)
            features = answerability_features(item.query.text, chunks, ranked, scorer)
            part.append((features, ranked[0].score if ranked else 0.0, label))
    x = np.vstack([f for f, _, _ in rows["train"]])
    y = np.array([label for _, _, label in rows["train"]], dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    weights, bias = fit_logistic((x - mean) / scale, y)
    unfloored = AnswerabilityModel(tuple(map(float, weights)), bias, tuple(map(float, mean)),
                                   tuple(map(float, scale)), 0.0)

    def floor_for(scores: list[float]) -> float:
        ordered = sorted(scores)
        return ordered[int(target_false_refusals * len(ordered))]

    train_pos = [(unfloored.probability(f), p1) for f, p1, label in rows["train"] if label == 1]
    model = replace(unfloored, floor=round(floor_for([p for p, _ in train_pos]), 4))
    sentence_floor = floor_for([p1 for _, p1 in train_pos])
    report: dict[str, Any] = {"target_false_refusals": target_false_refusals, "floor": model.floor,
                              "weights": dict(zip(ANSWERABILITY_FEATURES, (round(w, 4) for w in weights), strict=True))}
    for name, part in rows.items():
        pos = [(model.probability(f), p1) for f, p1, label in part if label == 1]
        neg = [(model.probability(f), p1) for f, p1, label in part if label == 0]
        report[name] = {
            "questions": len(pos),
            "false_refusals": round(sum(p < model.floor for p, _ in pos) / max(len(pos), 1), 4),
            "correct_refusals": round(sum(p < model.floor for p, _ in neg) / max(len(neg), 1), 4),
            "best_sentence_only": {
                "false_refusals": round(sum(p1 < sentence_floor for _, p1 in pos) / max(len(pos), 1), 4),
                "correct_refusals": round(sum(p1 < sentence_floor for _, p1 in neg) / max(len(neg), 1), 4)},
        }
    return model, report


_WH = re.compile(r"^(what|which|who|whom|whose|when|where|why|how(?: many| much| long| old| far| big)?)\b\s*"
                 r"(?:(is|are|was|were|did|does|do|has|have|had|can|could|will|would)\b\s*)?", re.I)


def claim_sentence(question: str, answer: str) -> str:
    """A gold answer written as a sentence: the question's words, the wh-word out, the answer in."""
    rest = _WH.sub("", question.strip().rstrip("?").strip())
    return f"{rest} {answer.strip().rstrip('.')}.".strip()


def attribution(retrieved: Sequence[Retrieval], attributor: Attributor) -> dict[str, Any]:
    """Accuracy of ``supported`` on pairs: a gold answer as a sentence, with the answer-bearing chunks
    of its own article (supported) or with chunks of other articles only (unsupported)."""
    scores: dict[str, list[tuple[float, bool]]] = {"train": [], "held_out": []}
    for item in retrieved:
        answers = informative_answers(item.query)
        own = next(iter(item.query.relevant))
        bearing = [c for c in item.full if c.chunk.doc_id == own and any(holds_answer(c.chunk.text, [a])
                                                                         for a in item.query.answers)]
        if not answers or not bearing:
            continue
        gold = next(a for a in item.query.answers if any(holds_answer(c.chunk.text, [a]) for c in bearing))
        claim = claim_sentence(item.query.text, gold)
        part = scores["held_out" if held_out(own) else "train"]
        for chunks, label in ((bearing, True), (item.near, False)):
            claims = attributor.attribute(claim, chunks)
            part.append((max((c.support for c in claims), default=0.0), label))
    train = scores["train"]
    best = max((t / 100 for t in range(20, 90)),
               key=lambda t: sum((x >= t) == y for x, y in train))

    def accuracy(pairs: list[tuple[float, bool]], threshold: float) -> float:
        return round(sum((x >= threshold) == y for x, y in pairs) / max(len(pairs), 1), 4)

    return {"pairs": {k: len(v) for k, v in scores.items()}, "best_threshold_on_train": best,
            "accuracy_at_configured": {k: accuracy(v, attributor.threshold) for k, v in scores.items()},
            "accuracy_at_best": {k: accuracy(v, best) for k, v in scores.items()}}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qa", type=Path, default=DEFAULT_QA)
    parser.add_argument("--l2", type=float, default=1.0)
    parser.add_argument("--write", action="store_true", help="Save the fitted weights to the model file.")
    parser.add_argument("--cache", type=Path, help="Pickle of the retrieved chunks, reused when present.")
    parser.add_argument("--store", type=Path, help="Embedded store to keep (default: a temporary one).")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store or Path(tmp) / "qdrant"
        settings = Settings(qdrant={"path": store}, redis={"embedded_path": Path(tmp) / "r.rdb"})
        with Components(settings) as parts:
            if args.cache and args.cache.is_file():
                retrieved = pickle.loads(args.cache.read_bytes())
            else:
                retrieved = retrieve(args.qa, parts, settings.retrieval.top_k)
                if args.cache:
                    args.cache.write_bytes(pickle.dumps(retrieved))
            untrained = EvidenceModel((0.0,) * len(FEATURES), 0.0)
            rows = featurize(retrieved, EvidenceScorer(parts.embedder, parts.sparse, untrained))
            train = [q for q in rows if not held_out(q.doc_id)]
            weights, bias = fit_logistic(np.vstack([q.features for q in train]),
                                         np.concatenate([q.labels for q in train]), args.l2)
            model = EvidenceModel(tuple(float(w) for w in weights), bias, "evidence-v1")
            answerable, refusal = answerability(retrieved, EvidenceScorer(parts.embedder, parts.sparse, model))
            answer = AnswerSettings()
            informative = [item for item in retrieved if informative_answers(item.query)]
            capped = EvidenceScorer(parts.embedder, parts.sparse, model, max_embedded=answer.max_embedded_sentences)
            live = {"first_400": composed_live(informative[:400], capped, answer),
                    "held_out": composed_live([i for i in informative if held_out(next(iter(i.query.relevant)))],
                                              capped, answer)}
            scorer = EvidenceScorer(parts.embedder, parts.sparse, model)
            attributed = attribution(retrieved, Attributor(scorer, settings.answer.support_threshold))
    test = [q for q in rows if held_out(q.doc_id)]
    cosine_only = EvidenceModel(tuple(float(name == "cosine") for name in FEATURES), 0.0, "cosine")
    first400 = rows[:400]
    result: dict[str, Any] = {
        "inputs": {"qa": str(args.qa), "top_k": TOP_K, "l2": args.l2, "questions": len(rows),
                   "train_questions": len(train), "held_out_questions": len(test)},
        "weights": dict(zip(FEATURES, (round(w, 4) for w in weights), strict=True)),
        "bias": round(bias, 4),
        "answer": {"first_400": composed(first400, model, answer.max_sentences, answer.sentence_ratio),
                   "held_out": composed(test, model, answer.max_sentences, answer.sentence_ratio)},
        "answer_as_served": live,
        "model": {"first_400": top_hits(first400, model, 3), "held_out": top_hits(test, model, 3),
                  "train": top_hits(train, model, 3)},
        "answerability": refusal,
        "attribution": attributed,
        "cosine_only": {"first_400": top_hits(first400, cosine_only, 3), "held_out": top_hits(test, cosine_only, 3)},
    }
    write_results("evidence_model", result)
    shown = ("weights", "bias", "answer", "answer_as_served", "model", "answerability", "attribution", "cosine_only")
    print(json.dumps({k: result[k] for k in shown}, indent=2))
    if args.write:
        MODEL_FILE.write_text(json.dumps({
            "version": model.version, "features": list(FEATURES), "weights": result["weights"], "bias": result["bias"],
            "trained_on": "cmu-qa-dev, articles with sha256(doc_id) % 4 != 0",
            "answerability": {
                "features": list(ANSWERABILITY_FEATURES),
                # Six places: more would only record the embedder's run-to-run float noise.
                "weights": {n: round(w, 6) for n, w in zip(ANSWERABILITY_FEATURES, answerable.weights, strict=True)},
                "bias": round(answerable.bias, 6),
                "mean": {n: round(m, 6) for n, m in zip(ANSWERABILITY_FEATURES, answerable.mean, strict=True)},
                "scale": {n: round(x, 6) for n, x in zip(ANSWERABILITY_FEATURES, answerable.scale, strict=True)},
                "floor": answerable.floor,
            },
        }, indent=2) + "\n")
        print(f"wrote {MODEL_FILE}")


if __name__ == "__main__":
    main()
