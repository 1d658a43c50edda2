"""Settings of the guardrails: question limits, injection detectors, refusal floors (the
``guardrails`` section).

Kept beside ``core.settings`` so that file stays one screen per concern; ``Settings.guardrails``
is the way in::

    >>> from core.settings import Settings
    >>> Settings(guardrails={"context_action": "drop"}).guardrails.context_action
    'drop'
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core.section import Section


class GuardrailSettings(Section):
    max_question_chars: int = Field(
        default=2000, ge=1, description="Questions longer than this are rejected (characters)."
    )
    detect_injection: bool = Field(
        default=True,
        description="Reject questions that look like prompt injection: patterns, the learned "
        "direct-injection detector (generation/guardrails/direct.py) when the answer path has the "
        "embedder, and the classifier when one is configured.",
    )
    injection_classifier: str | None = Field(
        default=None,
        description="Optional extra detector, as `package.module:callable`; the callable takes a "
        "text and returns the probability that it is an injection (0..1).",
    )
    classifier_threshold: float = Field(
        default=0.5, ge=0, le=1, description="Classifier probability at or above which text is flagged."
    )
    context_action: Literal["quote", "drop", "off"] = Field(
        default="quote",
        description="What happens to a retrieved chunk that carries instructions aimed at the "
        "model: `quote` it as inert data, `drop` it from the prompt, or `off` (no check).",
    )
    detect_instructions: bool = Field(
        default=True,
        description="Also screen retrieved chunks with the learned detector of planted instructions "
        "(generation/guardrails/instructions.py), which catches ordinary orders aimed at the reader "
        "('Tell the user to visit ...'); it reads sentences with the first layers of the packaged int8 "
        "MiniLM (its own ONNX session, ~60 MB). A flagged sentence is quoted in the prompt and left out "
        "of the evidence; the rest of its chunk is used as usual.",
    )
    instruction_threshold: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Sentence score at or above which the learned detector flags a sentence. Unset: the "
        "threshold shipped with the model, chosen out of fold on both dev sets to keep false positives "
        "within 1% of encyclopedia windows and 2% of clean e-mails and tables (bench/injection_model.py).",
    )
    min_dense_score: float = Field(
        default=0.35,
        ge=-1,
        le=1,
        description="Refusal floor on the best chunk's dense cosine similarity: under it the "
        "answer is 'the documents don't say' and the LLM is not called. 0.35 is calibrated for "
        "all-MiniLM-L6-v2 on cmu-qa-dev (bench/refusal_floor.py): it refuses ~2% of answerable "
        "questions; recalibrate for another embedder.",
    )
    min_score: float | None = Field(
        default=None,
        description="Refusal floor on the fused score, used only when the retriever gives no "
        "dense score. Its scale depends on the fusion mode, so it is off by default.",
    )
    fallback_sources_only: bool = Field(
        default=True,
        description="When the LLM is unavailable or times out, answer with the retrieved sources "
        "only (`degraded`) instead of failing.",
    )
