"""The input guardrail: questions that are empty, too long, or look like prompt injection are
rejected before any retrieval or generation. Injection is the patterns' verdict and, when an
embedding function is given, the learned direct-injection head's (``direct.py``), which catches
the same intent in other words, languages or encodings.

    >>> guard = InputGuard(max_chars=200)
    >>> guard.check("  What is the capital of France?  ")
    'What is the capital of France?'
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import structlog

from core.errors import GuardrailViolation, InvalidRequest
from core.guardrail_settings import GuardrailSettings
from core.types import ChatMessage
from generation.guardrails.detector import InjectionDetector, detector_from_settings
from generation.guardrails.direct import DirectInjectionDetector
from generation.guardrails.instructions import Vectors
from generation.guardrails.patterns import INPUT_WEIGHTS

log = structlog.get_logger(__name__)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class InputGuard:
    """Checks a question (and the user turns of a conversation) before anything else runs.

    Raises ``InvalidRequest`` for an empty question and ``GuardrailViolation`` (code
    ``guardrail_violation``) with the reason for one that is too long or looks like injection.

    Example::

        guard = InputGuard.from_settings(settings.guardrails)
        question = guard.check(raw_question)   # cleaned, or raises
    """

    def __init__(
        self,
        max_chars: int = 2000,
        detector: InjectionDetector | None = None,
        *,
        detect_injection: bool = True,
        learned: DirectInjectionDetector | None = None,
    ) -> None:
        self._max_chars = max_chars
        if detector is None and detect_injection:
            detector = InjectionDetector(weights=INPUT_WEIGHTS)
        self._detector = detector
        self._learned = learned if detect_injection else None

    @classmethod
    def from_settings(cls, settings: GuardrailSettings, vectors: Vectors | None = None) -> InputGuard:
        """``vectors`` (sentence embeddings, e.g. the answer path's ``EvidenceScorer.vectors``) turns
        on the learned direct-injection detector beside the patterns; without it only patterns run."""
        if not settings.detect_injection:
            return cls(max_chars=settings.max_question_chars, detect_injection=False)
        learned = DirectInjectionDetector(vectors) if vectors is not None else None
        return cls(max_chars=settings.max_question_chars, detector=detector_from_settings(settings, INPUT_WEIGHTS),
                   learned=learned)

    def check(self, question: str, history: Sequence[ChatMessage] = ()) -> str:
        """The question, stripped of control characters and outer whitespace; raises if rejected."""
        cleaned = _CONTROL.sub("", question).strip()
        if not cleaned:
            raise InvalidRequest("the question is empty")
        if len(cleaned) > self._max_chars:
            raise GuardrailViolation(f"the question is {len(cleaned)} characters long; the limit is {self._max_chars}")
        self._screen(cleaned, "question")
        # Earlier user turns reach the model too (when condensing a follow-up).
        for turn in history:
            if turn.role == "user":
                self._screen(turn.content[: self._max_chars * 2], "conversation history")
        return cleaned

    def _screen(self, text: str, what: str) -> None:
        if self._detector is not None:
            verdict = self._detector.scan(text)
            if verdict.flagged:
                log.warning("guardrail.input_rejected", where=what, rules=verdict.rules, view=verdict.view)
                raise GuardrailViolation(f"the {what} was rejected: it {verdict.reason}")
        # The learned head catches what patterns miss: the same intent in other words or languages.
        if self._learned is not None:
            learned = self._learned.scan(text)
            if learned.flagged:
                log.warning("guardrail.input_rejected", where=what, learned_score=learned.score)
                raise GuardrailViolation(f"the {what} was rejected: it {learned.reason}")
