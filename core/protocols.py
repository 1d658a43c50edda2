"""One protocol per role; backends are chosen by settings at a composition root."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from core.types import ChatMessage, FusionMode, ScoredChunk, SearchFilters, SparseVector, TokenUsage

FloatMatrix = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Dense text embeddings. Vectors are L2-normalized float32."""

    @property
    def model_name(self) -> str: ...

    @property
    def identity(self) -> str:
        """The model and the runtime that computes it (``all-MiniLM-L6-v2/onnx-int8``): what a collection
        records of the embedder that wrote it, since vectors of one are not quite those of another."""
        ...

    @property
    def dimension(self) -> int: ...

    @property
    def max_seq_length(self) -> int:
        """Longest input in the model's own tokens, special tokens included."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in the model's tokenizer, without special tokens."""
        ...

    def tokenize(self, text: str) -> list[int]: ...

    def embed_documents(self, texts: Sequence[str]) -> FloatMatrix: ...

    def embed_query(self, text: str) -> npt.NDArray[np.float32]: ...


@runtime_checkable
class SparseEncoder(Protocol):
    """Lexical sparse vectors (term weights); the index applies IDF."""

    @property
    def name(self) -> str: ...

    def encode_document(self, text: str) -> SparseVector: ...

    def encode_query(self, text: str) -> SparseVector: ...


@runtime_checkable
class Reranker(Protocol):
    def rerank(self, query: str, candidates: Sequence[ScoredChunk], top_k: int) -> list[ScoredChunk]: ...


@dataclass(frozen=True, slots=True)
class GenerationOptions:
    """One request's wishes for generation; unset fields (None) keep the server's settings.

    ``max_tokens`` can only lower the server's cap (``llm.max_tokens``), never raise it.
    ``instructions`` is the client application's own system text: it is not a sampling
    parameter, so chat models ignore it; the Answerer renders it into the prompt's per-request
    block, below the rules, which it cannot override.

    >>> GenerationOptions(temperature=0.0, stop=("\\n",)).fingerprint() == GenerationOptions(temperature=0.0,
    ...     stop=("\\n",)).fingerprint() != GenerationOptions().fingerprint()
    True
    """

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    instructions: str | None = None

    def cap(self, limit: int) -> int:
        """``limit`` lowered to the request's ``max_tokens``, when it asks for fewer."""
        return min(limit, self.max_tokens) if self.max_tokens is not None else limit

    def fingerprint(self) -> str:
        """12 hex digits naming these options: answers made with other options never share a cache entry."""
        canonical = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]


@runtime_checkable
class ChatModel(Protocol):
    """A chat-completions model (vLLM / any OpenAI-compatible server, or llama.cpp in-process).

    ``max_tokens`` (the caller's budget) and ``options.max_tokens`` both cap the completion; the
    smaller wins. ``options`` overrides the backend's configured sampling where a field is set.
    """

    @property
    def model_name(self) -> str: ...

    def complete(self, messages: Sequence[ChatMessage], max_tokens: int | None = None,
                 options: GenerationOptions | None = None) -> tuple[str, TokenUsage]: ...

    def stream(self, messages: Sequence[ChatMessage], max_tokens: int | None = None,
               options: GenerationOptions | None = None) -> Iterator[str]: ...

    def count_tokens(self, text: str) -> int: ...


@runtime_checkable
class Retriever(Protocol):
    """Finds the chunks most relevant to a question (the retrieval package implements it). ``mode`` is
    one request's fusion of the dense and BM25 lists (``retrieval.mode``'s values); None: the configured one."""

    def search(
        self,
        query: str,
        collection: str,
        top_k: int = 8,
        filters: SearchFilters | None = None,
        *,
        mode: FusionMode | None = None,
    ) -> list[ScoredChunk]: ...
