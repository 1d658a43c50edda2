"""Answerability: does any retrieved sentence answer *this* question, or are the documents only
about a similar thing?

A dense cosine floor cannot tell "a question about another president" from "a question about
this one": both retrieve close text. The signal is in the evidence: how likely the best sentence
is to hold the answer, how close it and its chunk are, how much of the question's rare terms it
holds, and whether the names the question asks about (its capitalized words) and its terms occur
in the retrieved text at all. A logistic model over those, fitted by ``bench/evidence_model.py``
on cmu-qa-dev questions asked with their article ingested (answerable) and without it (same
dataset, other articles: near-domain), gives the probability that the question is answerable;
under ``floor`` (calibrated there to refuse about 5% of answerable questions) the answer is a
refusal.

Example::

    model = AnswerabilityModel.load()
    ranked = scorer.rank(question, chunks)  # an EvidenceScorer's ranking, best first
    refuse = model.probability(answerability_features(question, chunks, ranked, scorer)) < model.floor
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import ConfigurationError
from core.types import ScoredChunk
from generation.evidence import FEATURES as SENTENCE_FEATURES
from generation.evidence import MODEL_FILE, Evidence, EvidenceScorer

FEATURES = ("evidence_logit", "second_evidence", "best_cosine", "best_idf_overlap", "best_context_overlap",
            "chunk_cosine", "name_coverage", "term_coverage", "missing_terms")
_NAME = re.compile(r"\b[A-Z][A-Za-z\-]+")
_COSINE, _IDF_OVERLAP, _CONTEXT_OVERLAP = (SENTENCE_FEATURES.index(n) for n in ("cosine", "idf_overlap",
                                                                                 "context_overlap"))


def answerability_features(question: str, chunks: Sequence[ScoredChunk], ranked: Sequence[Evidence],
                           scorer: EvidenceScorer) -> np.ndarray:
    """One row of ``FEATURES``: the evidence ranking (best first) and the retrieved text."""
    sparse = scorer.sparse
    best = ranked[0] if ranked else None
    p1 = min(max(best.score if best else 0.0, 1e-6), 1 - 1e-6)
    p2 = ranked[1].score if len(ranked) > 1 else 0.0
    text = " ".join(f"{c.chunk.title} {c.chunk.text}" for c in chunks)
    held: set[int] = set()
    for scored in chunks:
        # The scorer encoded every sentence already (cached per chunk): their union is the chunk's terms.
        held.update(*scorer.sentences(scored).terms)
        held.update(sparse.encode_document(scored.chunk.title).indices)
    terms = set(sparse.encode_query(question).indices)
    # Capitalized words after the first: the names the question is about ("Coolidge", "Qatar").
    names = {w.lower() for w in _NAME.findall(question.split(" ", 1)[1] if " " in question else "")}
    lowered = text.lower()
    features = best.features if best is not None and best.features else (0.0,) * len(SENTENCE_FEATURES)
    return np.array([
        math.log(p1 / (1 - p1)),
        p2,
        features[_COSINE],
        features[_IDF_OVERLAP],
        features[_CONTEXT_OVERLAP],
        max((c.dense_score for c in chunks if c.dense_score is not None), default=0.0),
        sum(name in lowered for name in names) / len(names) if names else 1.0,
        len(terms & held) / len(terms) if terms else 1.0,
        float(len(terms - held)),
    ], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class AnswerabilityModel:
    """Logistic weights over standardized ``FEATURES``, and the calibrated refusal ``floor``."""

    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    floor: float

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> AnswerabilityModel:
        try:
            data = json.loads(path.read_text())["answerability"]
            return cls(tuple(float(data["weights"][n]) for n in FEATURES), float(data["bias"]),
                       tuple(float(data["mean"][n]) for n in FEATURES),
                       tuple(float(data["scale"][n]) for n in FEATURES), float(data["floor"]))
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise ConfigurationError(f"cannot read the answerability model in {path}: {exc}") from exc

    def probability(self, features: np.ndarray) -> float:
        z = (features - np.asarray(self.mean)) / np.asarray(self.scale)
        return float(1.0 / (1.0 + np.exp(-(z @ np.asarray(self.weights) + self.bias))))
