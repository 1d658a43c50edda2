"""The embedder the settings name: ``onnx-int8`` (the default, no torch) or ``sentence-transformers``.

The one module that knows both backends, so neither imports the other; each backend's runtime
(ONNX Runtime, torch) loads only when its embedder is built.
"""

from __future__ import annotations

from typing import TypeAlias

from core.settings import EmbeddingSettings
from ingest.embedding import SentenceTransformerEmbedder
from ingest.onnx_embedding import OnnxEmbedder

LocalEmbedder: TypeAlias = SentenceTransformerEmbedder | OnnxEmbedder


def embedder_from_settings(settings: EmbeddingSettings) -> LocalEmbedder:
    """The embedder ``settings.backend`` names."""
    if settings.backend == "sentence-transformers":
        return SentenceTransformerEmbedder.from_settings(settings)
    return OnnxEmbedder.from_settings(settings)
