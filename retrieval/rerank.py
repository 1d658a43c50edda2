"""Reranking: a sentence-transformers CrossEncoder rescoring the fused candidates.

Example::

    reranker = CrossEncoderReranker(Path("models/ms-marco-MiniLM-L-6-v2"), max_candidates=20)
    best = reranker.rerank("who wrote it?", hits, top_k=5)   # hits: the fused ScoredChunks
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from core.errors import ConfigurationError
from core.types import ScoredChunk


class NoopReranker:
    """The default: keeps the fused order."""

    def rerank(self, query: str, candidates: Sequence[ScoredChunk], top_k: int) -> list[ScoredChunk]:
        return list(candidates[:top_k])


class CrossEncoderReranker:
    """Scores (query, chunk) pairs jointly; at most ``max_candidates`` pairs per query (it is slow)."""

    def __init__(self, model_path: Path, max_candidates: int = 20, device: str = "cpu") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        if not model_path.is_dir():
            raise ConfigurationError(f"reranker model folder not found: {model_path}")
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as exc:
            raise ConfigurationError("the cross-encoder reranker needs sentence-transformers (torch): pip install "
                                     "'ragqa[fp32]' (./scripts/install.sh --dev), or turn reranking off") from exc

        self._model = CrossEncoder(str(model_path), num_labels=1, device=device, local_files_only=True)
        self._max_candidates = max_candidates

    def rerank(self, query: str, candidates: Sequence[ScoredChunk], top_k: int) -> list[ScoredChunk]:
        pool = list(candidates[: self._max_candidates])
        if not pool:
            return []
        scores = self._model.predict([(query, c.chunk.text) for c in pool], show_progress_bar=False)
        ranked = sorted(zip(pool, scores, strict=True), key=lambda pair: float(pair[1]), reverse=True)
        return [replace(hit, score=float(score)) for hit, score in ranked[:top_k]]
