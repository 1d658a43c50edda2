"""How the Answerer answers: the mode, the evidence floor, and the self-check that replaces a
generated answer with the extractive one.

    >>> AnswerPolicy(mode="auto", min_grounded=0.5).review(grounded=0.2, refused=False,
    ...                                                    degenerate=False, best_evidence=0.7)
    'ungrounded_generation'
"""

from __future__ import annotations

from dataclasses import dataclass

from core.answer_settings import AnswerSettings
from core.types import AnswerMode


@dataclass(frozen=True, slots=True)
class AnswerPolicy:
    """The answer settings in force (see ``core.answer_settings.AnswerSettings`` for each field).

    Example::

        policy = AnswerPolicy.from_settings(settings.answer, has_llm_server=bool(settings.llm.base_url))
        if policy.mode == "extractive": ...
    """

    mode: AnswerMode = "generative"
    max_sentences: int = 3
    sentence_ratio: float = 0.1
    min_evidence: float | None = 0.0  # None: the answerability model's calibrated floor
    min_grounded: float = 0.5
    strong_evidence: float = 0.6
    low_confidence_floor: float = 0.02
    low_confidence_term_coverage: float = 0.5
    unrelated_dense_floor: float = 0.2

    @classmethod
    def from_settings(cls, settings: AnswerSettings, has_llm_server: bool) -> AnswerPolicy:
        return cls(settings.resolved_mode(has_llm_server), settings.max_sentences, settings.sentence_ratio,
                   settings.min_evidence, settings.min_grounded, settings.strong_evidence,
                   settings.low_confidence_floor, settings.low_confidence_term_coverage,
                   settings.unrelated_dense_floor)

    def review(self, *, grounded: float | None, refused: bool, degenerate: bool,
               best_evidence: float | None, echoed_planted: bool = False, mode: AnswerMode | None = None) -> str | None:
        """Why a generated answer should give way to the extractive one (``auto`` mode: the request's
        ``mode``, else the configured one), or None."""
        if (mode or self.mode) != "auto" or best_evidence is None:
            return None
        if degenerate:
            return "degenerate_generation"
        if echoed_planted:  # the model followed a planted order: what else it wrote is suspect too
            return "planted_text_in_generation"
        if refused:
            return "unwarranted_refusal" if best_evidence >= self.strong_evidence else None
        if grounded is not None and grounded < self.min_grounded:
            return "ungrounded_generation"
        return None
