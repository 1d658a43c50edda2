"""How sure an answer is: ``high`` (the evidence answers the question), ``low`` (the closest
evidence is shown, marked as perhaps not answering it) or ``none`` (a refusal).

No single score decides. A dense cosine floor refused questions worded unlike their documents
("How much was paid to Air Canada?" over a receipt that says "Air Canada charged ..."); the
answerability model, fitted on encyclopedia questions, refused imperatives and manuals. So the
signals vote in two steps:

- **confident** when the answerability model clears its floor and the best chunk is close in
  meaning (the dense floor);
- otherwise **low confidence** when the answerability model clears a lower floor, or the question's
  content terms are found in the retrieved text (BM25's view: the words are there, the meaning may
  be too) and so is every name it asks about ("When did Calvin Coolidge become president?" over
  articles that never name him finds "president", not the subject);
- otherwise a **refusal**: nothing related was found; and always when even the closest passage is
  far in meaning (``unrelated_below``: a question about football asked of articles on marsupials
  shares words like "won", never the meaning).

A wrong confident answer and a false "I don't know" are both failures; a hedged answer with the
right evidence is neither. The floors are ``answer.*`` settings, chosen leave-one-genre-out over
the multi-genre dev sets (bench/confidence_floors.py, BENCHMARKS.md).

    >>> policy = ConfidencePolicy(confident_at=0.3, low_at=0.1, min_dense=0.35, term_coverage=0.6)
    >>> policy.decide(ConfidenceSignals(answerability=0.5, best_dense=0.6, term_coverage=1.0))
    'high'
    >>> policy.decide(ConfidenceSignals(answerability=0.5, best_dense=0.3, term_coverage=1.0))
    'low'
    >>> policy.decide(ConfidenceSignals(answerability=0.05, best_dense=0.2, term_coverage=0.2))
    'none'
"""

from __future__ import annotations

from dataclasses import dataclass

from core.types import Confidence

LOW_CONFIDENCE_LEAD = "The documents may not answer this directly. The closest passage:"


@dataclass(frozen=True, slots=True)
class ConfidenceSignals:
    """What the evidence says about one question: the answerability model's probability, the best
    chunk's dense cosine (None for a fused-only retriever), and the share of the question's content
    terms the retrieved text holds."""

    answerability: float
    best_dense: float | None
    term_coverage: float
    name_coverage: float = 1.0  # share of the names the question asks about found in the retrieved text

    def describe(self) -> str:
        dense = "n/a" if self.best_dense is None else f"{self.best_dense:.3f}"
        return (f"answerable {self.answerability:.3f}, best dense {dense}, "
                f"question terms found {self.term_coverage:.0%}")  # fmt: skip


@dataclass(frozen=True, slots=True)
class ConfidencePolicy:
    """The floors; ``decide`` applies them (see the module docstring)."""

    confident_at: float
    low_at: float
    min_dense: float
    term_coverage: float
    names_required: bool = True  # the terms route needs every name the question asks about found
    unrelated_below: float = 0.0  # a best dense cosine under this is "nothing related": a refusal

    def decide(self, signals: ConfidenceSignals) -> Confidence:
        if signals.best_dense is not None and signals.best_dense < self.unrelated_below:
            return "none"
        close = signals.best_dense is None or signals.best_dense >= self.min_dense
        if signals.answerability >= self.confident_at and close:
            return "high"
        named = not self.names_required or signals.name_coverage >= 1.0
        if signals.answerability >= self.low_at or (signals.term_coverage >= self.term_coverage and named):
            return "low"
        return "none"
