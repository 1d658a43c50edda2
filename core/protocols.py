"""One protocol per role; backends are chosen by settings at a composition root."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from core.types import ChatMessage, ScoredChunk, SearchFilters, SparseVector, TokenUsage

FloatMatrix = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Dense text embeddings. Vectors are L2-normalized float32."""

    @property
    def model_name(self) -> str: ...

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


@runtime_checkable
class ChatModel(Protocol):
    """A chat-completions model (vLLM / any OpenAI-compatible server, or llama.cpp in-process)."""

    @property
    def model_name(self) -> str: ...

    def complete(self, messages: Sequence[ChatMessage], max_tokens: int | None = None) -> tuple[str, TokenUsage]: ...

    def stream(self, messages: Sequence[ChatMessage], max_tokens: int | None = None) -> Iterator[str]: ...

    def count_tokens(self, text: str) -> int: ...


@runtime_checkable
class Retriever(Protocol):
    """Finds the chunks most relevant to a question (the retrieval package implements it)."""

    def search(
        self,
        query: str,
        collection: str,
        top_k: int = 8,
        filters: SearchFilters | None = None,
    ) -> list[ScoredChunk]: ...
