"""Fits the evidence and answerability models on many genres, leave-one-genre-out, and reports
each genre with models fitted without it, beside the shipped models.

    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.evidence_genres [--write]

Data: the genres of bench/data/answers-multigenre (written blind) and the encyclopedia genre
(cmu-qa-dev in tests/data), as bench/confidence_floors.py loads them. Every sentence of the chunks
retrieved for an answerable question is a row over ``generation.evidence.FEATURES`` (every sentence
embedded), labelled by whether it is the question's gold evidence or holds its gold answer. The
answerability model is then fitted on answerable questions (1) against near-domain ones (0), over
``generation.answerability.FEATURES`` computed with the evidence model of the same fold.

Reported per held-out genre: the share of answerable questions whose best sentence is right
(``first``) and whose best three hold a right one (``top3``), shipped vs leave-one-genre-out; and the
answerability model's AUC. ``--write`` saves the models fitted on every genre into
generation/evidence_model.json (the answerability floor stays until bench/confidence_floors.py
chooses the floors). Results: bench/results/evidence_genres.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.common import write_results
from bench.confidence_floors import MULTIGENRE, cmu_genre, is_right
from bench.evidence_model import fit_logistic
from core.answer_request import AnswerRequest
from core.errors import GuardrailViolation
from core.settings import Settings
from core.types import ScoredChunk
from generation.answerability import FEATURES as ANSWERABILITY_FEATURES
from generation.answerability import answerability_features
from generation.answerer import Answerer
from generation.devsets import DevQuestion, load_genres
from generation.evidence import FEATURES, MODEL_FILE, Evidence, EvidenceModel, EvidenceScorer
from generation.extractive import quotable
from ingest.embedders import embedder_from_settings
from ingest.pipeline import IngestPipeline
from ingest.sources import SourceDocument
from retrieval.backends import open_index
from retrieval.search import HybridRetriever
from retrieval.sparse import Bm25SparseEncoder

L2 = 1.0


@dataclass(slots=True)
class Case:
    genre: str
    question: DevQuestion
    standalone: str
    chunks: list[ScoredChunk]
    evidence: list[Evidence]  # every sentence, all embedded, with features
    labels: np.ndarray  # per evidence item: right or not


def collect(store: Path) -> tuple[list[Case], EvidenceScorer]:
    settings = Settings(qdrant={"path": store}, answer={"mode": "extractive", "max_embedded_sentences": 0})
    embedder = embedder_from_settings(settings.embedding)
    sparse = Bm25SparseEncoder()
    index = open_index(settings.qdrant)
    retriever = HybridRetriever(index, embedder, sparse, settings.retrieval)
    answerer = Answerer.from_settings(settings, retriever, embedder=embedder, sparse=sparse)
    assert answerer.preparation.evidence is not None
    pipeline = IngestPipeline(embedder, sparse, index, settings)
    cases: list[Case] = []
    for genre, questions in [*[(g, g.questions) for g in load_genres(MULTIGENRE)], cmu_genre()]:
        sources = [SourceDocument(doc_id, path.name, str(path), path=path) for doc_id, path in genre.documents.items()]
        assert not pipeline.ingest(sources, genre.genre).failures
        for q in questions:
            try:
                prep = answerer.assess(AnswerRequest(q.question, genre.genre, history=q.history))
            except GuardrailViolation:
                continue
            if not prep.chunks:
                continue
            ranked = answerer.preparation.evidence.rank(prep.question, prep.chunks)  # all sentences, before any filter
            doc = {n: c.chunk.doc_id for n, c in enumerate(prep.chunks, start=1)}
            labels = np.array([q.answerable and quotable(e.text) and is_right(q, doc[e.source], e.text)
                               for e in ranked], dtype=np.float64)  # fmt: skip
            cases.append(Case(genre.genre, q, prep.question, list(prep.chunks), ranked, labels))
    index.close()
    return cases, answerer.preparation.evidence


def rescored(case: Case, model: EvidenceModel) -> list[Evidence]:
    features = np.array([e.features for e in case.evidence])
    scores = model.probabilities(features)
    out = [replace(e, score=float(s)) for e, s in zip(case.evidence, scores, strict=True)]
    return sorted(out, key=lambda e: -e.score)


def ranking(cases: Sequence[Case], model: EvidenceModel) -> dict[str, float]:
    answerable = [c for c in cases if c.question.answerable]
    first = top3 = 0
    for case in answerable:
        order = [e for e in rescored(case, model) if quotable(e.text)]
        right = {(e.source, e.span.start) for e, label in zip(case.evidence, case.labels, strict=True) if label}
        hits = [(e.source, e.span.start) in right for e in order[:3]]
        first += int(bool(hits) and hits[0])
        top3 += int(any(hits))
    n = max(len(answerable), 1)
    return {"first": round(first / n, 3), "top3": round(top3 / n, 3), "questions": len(answerable)}


def fit_evidence(cases: Sequence[Case]) -> EvidenceModel:
    rows = [c for c in cases if c.question.answerable and c.labels.any()]
    x = np.vstack([np.array([e.features for e in c.evidence]) for c in rows])
    y = np.concatenate([c.labels for c in rows])
    weights, bias = fit_logistic(x, y, l2=L2)
    return EvidenceModel(tuple(float(w) for w in weights), bias, "evidence-v2")


def answerability_rows(cases: Sequence[Case], model: EvidenceModel, scorer: EvidenceScorer
                       ) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([answerability_features(c.standalone, c.chunks, rescored(c, model), scorer) for c in cases])
    y = np.array([float(c.question.answerable) for c in cases])
    return x, y


def fit_answerability(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    weights, bias = fit_logistic((x - mean) / scale, y, l2=L2)
    return {"weights": weights, "bias": bias, "mean": mean, "scale": scale}


def probabilities(fit: dict[str, Any], x: np.ndarray) -> np.ndarray:
    z = (x - fit["mean"]) / fit["scale"]
    return np.asarray(1.0 / (1.0 + np.exp(-(z @ fit["weights"] + fit["bias"]))))


def auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    pos, neg = scores[labels == 1], scores[labels == 0]
    if not len(pos) or not len(neg):
        return None
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return round(float(wins / (len(pos) * len(neg))), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, default=Path("/tmp/ragqa-evidence-genres-store"))
    parser.add_argument("--write", action="store_true", help="save the models fitted on every genre")
    args = parser.parse_args()
    shutil.rmtree(args.store, ignore_errors=True)
    cases, scorer = collect(args.store)
    shipped = EvidenceModel.load()
    genres = sorted({c.genre for c in cases})
    report: dict[str, Any] = {}
    for genre in genres:
        train = [c for c in cases if c.genre != genre]
        test = [c for c in cases if c.genre == genre]
        model = fit_evidence(train)
        fit = fit_answerability(*answerability_rows(train, model, scorer))
        tx, ty = answerability_rows(test, model, scorer)
        sx, sy = answerability_rows(test, shipped, scorer)
        from generation.answerability import AnswerabilityModel

        old = AnswerabilityModel.load()
        report[genre] = {"shipped": ranking(test, shipped), "logo": ranking(test, model),
                         "answerability_auc_logo": auc(probabilities(fit, tx), ty),
                         "answerability_auc_shipped": auc(np.array([old.probability(r) for r in sx]), sy)}
    console = Console()
    table = Table(title="Evidence ranking per held-out genre: shipped (cmu) vs fitted leave-one-genre-out")
    for column in ("genre", "questions", "first: shipped", "first: LOGO", "top3: shipped", "top3: LOGO",
                   "answerable AUC: shipped", "answerable AUC: LOGO"):
        table.add_column(column)
    for genre, r in report.items():
        table.add_row(genre, str(r["logo"]["questions"]), str(r["shipped"]["first"]), str(r["logo"]["first"]),
                      str(r["shipped"]["top3"]), str(r["logo"]["top3"]), str(r["answerability_auc_shipped"]),
                      str(r["answerability_auc_logo"]))
    console.print(table)
    final = fit_evidence(cases)
    final_fit = fit_answerability(*answerability_rows(cases, final, scorer))
    results: dict[str, Any] = {"genres": genres, "cases": len(cases), "leave_one_genre_out": report,
                               "fitted_on_all": {"evidence": dict(zip(FEATURES, final.weights, strict=True)),
                                                 "bias": final.bias}}  # fmt: skip
    if args.write:
        data = json.loads(MODEL_FILE.read_text())
        data.update(version="evidence-v2", weights=dict(zip(FEATURES, final.weights, strict=True)), bias=final.bias,
                    trained_on="bench/data/answers-multigenre (every genre) and cmu-qa-dev in tests/data "
                               "(bench/evidence_genres.py)")  # fmt: skip
        data["answerability"].update(
            weights=dict(zip(ANSWERABILITY_FEATURES, map(float, final_fit["weights"]), strict=True)),
            bias=float(final_fit["bias"]), mean=dict(zip(ANSWERABILITY_FEATURES, map(float, final_fit["mean"]),
                                                         strict=True)),
            scale=dict(zip(ANSWERABILITY_FEATURES, map(float, final_fit["scale"]), strict=True)))
        MODEL_FILE.write_text(json.dumps(data, indent=2) + "\n")
        console.print(f"wrote {MODEL_FILE}")
    write_results("evidence_genres", results)


if __name__ == "__main__":
    main()
