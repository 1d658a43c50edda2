"""Refusals: before generation, when retrieval found nothing relevant enough; after, when the
model itself says it does not know.

The floor applies to the best chunk's dense cosine similarity when the retriever gives one,
since that scale is the same for every query; a fused score (RRF, DBSF) has a scale that
depends on the fusion mode, so its floor is a separate setting, off by default.

    >>> from core.types import Chunk, ScoredChunk
    >>> chunk = Chunk("c", "d", 0, "text", 0, 4)
    >>> RefusalPolicy(min_dense_score=0.3).should_refuse([ScoredChunk(chunk, 0.02, dense_score=0.12)])
    True
    >>> looks_like_refusal("I don't know based on the provided documents.")
    True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.guardrail_settings import GuardrailSettings
from core.types import ScoredChunk

REFUSAL_TEXT = "I don't know: the documents don't say."

_REFUSAL = re.compile(
    r"\b(?:i (?:do not|don't|dont) know|i (?:cannot|can't|can not|am unable to|'m unable to) "
    r"(?:answer|find|tell|determine|say)|(?:there is|there's) no (?:information|mention)|"
    r"(?:sources?|documents?|context|texts?|passages?) (?:do|does) (?:not|n't) "
    r"(?:say|contain|mention|provide|include|specify|state|answer)|"
    r"not (?:mentioned|stated|provided|found|specified|covered|given|included) in the "
    r"(?:provided |given )?(?:sources?|documents?|context|texts?)|"
    r"(?:cannot|can't|can not) be (?:answered|determined) (?:from|with|based on))",
    re.IGNORECASE,
)


def best_relevance(chunks: Sequence[ScoredChunk]) -> tuple[float | None, str]:
    """The best dense cosine when any chunk has one (``"dense"``), else the best fused score."""
    dense = [c.dense_score for c in chunks if c.dense_score is not None]
    if dense:
        return max(dense), "dense"
    if chunks:
        return max(c.score for c in chunks), "fused"
    return None, "none"


@dataclass(frozen=True, slots=True)
class RefusalPolicy:
    """Refuse without calling the LLM when the best chunk is under the floor.

    Example::

        policy = RefusalPolicy.from_settings(settings.guardrails)
        if policy.should_refuse(chunks): ...
    """

    min_dense_score: float = 0.35
    min_score: float | None = None

    @classmethod
    def from_settings(cls, settings: GuardrailSettings) -> RefusalPolicy:
        return cls(min_dense_score=settings.min_dense_score, min_score=settings.min_score)

    def should_refuse(self, chunks: Sequence[ScoredChunk]) -> bool:
        best, kind = best_relevance(chunks)
        if best is None:
            return True
        if kind == "dense":
            return best < self.min_dense_score
        return self.min_score is not None and best < self.min_score

    def explain(self, chunks: Sequence[ScoredChunk]) -> str:
        best, kind = best_relevance(chunks)
        if best is None:
            return "retrieval returned no chunks"
        floor = self.min_dense_score if kind == "dense" else self.min_score
        return f"best {kind} score {best:.3f} is under the floor {floor}"


def looks_like_refusal(text: str) -> bool:
    """True when the opening of the answer says the sources don't hold the answer."""
    opening = text.strip()[:240]
    return not opening or bool(_REFUSAL.search(opening))
