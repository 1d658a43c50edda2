"""The sentence-transformers embedding backend (torch, float32).

``ingest.embedders.embedder_from_settings`` picks the backend by ``embedding.backend``: ``onnx-int8``
(``ingest.onnx_embedding``, no torch) or ``sentence-transformers`` (this module). Both load
all-MiniLM-L6-v2 from PyPI packages by default. One instance is shared by ingestion and querying
(the query path gets it handed in). Each backend imports its runtime only when built, so a
process on the ONNX backend never loads torch.

Example::

    embedder = embedder_from_settings(EmbeddingSettings())
    embedder.embed_documents(["a chunk"]).shape  # (1, 384)
    embedder.identity                            # 'all-MiniLM-L6-v2/onnx-int8'
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from core.errors import ConfigurationError
from core.settings import EmbeddingSettings
from ingest.embedding_model import DEFAULT_MODEL_NAME, QueryCache, default_model_path, identity_of

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


MISSING_FP32 = ("the sentence-transformers backend (torch, fp32) is not installed: pip install 'ragqa[fp32]' "
                "(./scripts/install.sh --dev), or use the default RAGQA_EMBEDDING__BACKEND=onnx-int8")
BACKEND = "sentence-transformers"


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder; normalized float32 vectors."""

    def __init__(self, model_path: Path, device: str = "cpu", batch_size: int = 64,
                 query_cache_size: int = 1024, name: str | None = None) -> None:
        # Models come from packages; a hub lookup at run time would hang offline.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        if not model_path.is_dir():
            raise ConfigurationError(f"embedding model folder not found: {model_path}")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ConfigurationError(MISSING_FP32) from exc

        self._model: SentenceTransformer = SentenceTransformer(
            str(model_path), device=device, local_files_only=True
        )
        self._model_name = name or model_path.name
        self._batch_size = batch_size
        self._tokenizer = self._model.tokenizer
        get_dim = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if dim is None:
            raise ConfigurationError(f"cannot tell the embedding size of {model_path}")
        self._dimension = int(dim)
        self._cache = QueryCache(query_cache_size)
        # One call at a time into the model and its tokenizer: the fast tokenizer keeps its truncation
        # and padding state between calls, and two threads interleaving (a worker's thread pool, the
        # API's answer threads) failed one document with "excessive nesting" in `input_ids`.
        self._model_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: EmbeddingSettings) -> SentenceTransformerEmbedder:
        if settings.model_path is None:
            path, name = default_model_path(), DEFAULT_MODEL_NAME
        else:
            path, name = settings.model_path, settings.model_path.name
        if settings.threads is not None:
            set_torch_threads(settings.threads)
        return cls(path, settings.device, settings.batch_size, settings.query_cache_size, name)

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def identity(self) -> str:
        return identity_of(self._model_name, BACKEND)

    def set_threads(self, threads: int) -> None:
        """torch's intra-op threads: process-wide (torch has no per-model setting)."""
        set_torch_threads(threads)

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_seq_length(self) -> int:
        length = self._model.max_seq_length
        if length is None:
            raise ConfigurationError(f"embedding model {self._model_name} does not declare a max sequence length")
        return int(length)

    def tokenize(self, text: str) -> list[int]:
        with self._model_lock:
            ids: list[int] = self._tokenizer.encode(text, add_special_tokens=False)
        return ids

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def embed_documents(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        with self._model_lock:
            vectors = self._model.encode(
                list(texts), batch_size=self._batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        vector = self.embed_documents([text])[0]
        vector.setflags(write=False)
        self._cache.put(text, vector)
        return vector


def set_torch_threads(threads: int) -> None:
    import torch  # only on this backend, which has loaded it anyway

    torch.set_num_threads(threads)


