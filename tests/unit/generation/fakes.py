"""Fakes for the generation unit tests: a scripted chat model and a canned retriever.

They stand in only for pure-logic tests (guards, citations, the Answerer's control flow); the
real backends are exercised in tests/integration/generation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from core.errors import RagqaError
from core.types import ChatMessage, Chunk, ScoredChunk, SearchFilters, TokenUsage
from generation.chat import ChatStream
from generation.tokens import estimate_tokens


@dataclass
class FakeChatModel:
    """Replies with ``replies`` in turn (a RagqaError in the list is raised instead)."""

    replies: list[str | RagqaError] = field(default_factory=lambda: ["Paris is the capital [1]."])
    calls: list[list[ChatMessage]] = field(default_factory=list)
    model_name: str = "fake-model"

    def _next(self, messages: Sequence[ChatMessage]) -> str:
        self.calls.append(list(messages))
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, RagqaError):
            raise reply
        return reply

    def complete(self, messages: Sequence[ChatMessage], max_tokens: int | None = None) -> tuple[str, TokenUsage]:
        text = self._next(messages)
        return text, TokenUsage(prompt_tokens=100, completion_tokens=len(text.split()))

    def stream(self, messages: Sequence[ChatMessage], max_tokens: int | None = None) -> ChatStream:
        def deltas() -> Iterator[str]:
            text = self._next(messages)
            # Split mid-marker on purpose: "[1" then "]" must still be recognised.
            for i in range(0, len(text), 3):
                yield text[i : i + 3]
            holder.usage = TokenUsage(100, len(text.split()))

        holder = ChatStream(deltas())
        return holder

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)


@dataclass
class FakeRetriever:
    chunks: list[ScoredChunk]
    queries: list[str] = field(default_factory=list)

    def search(
        self, query: str, collection: str, top_k: int = 8, filters: SearchFilters | None = None
    ) -> list[ScoredChunk]:
        self.queries.append(query)
        return self.chunks[:top_k]


def make_chunk(n: int, text: str, dense: float | None = 0.6, score: float = 0.5) -> ScoredChunk:
    chunk = Chunk(
        chunk_id=f"doc{n}#0",
        doc_id=f"doc{n}.txt",
        ordinal=0,
        text=text,
        start=10 * n,
        end=10 * n + len(text),
        title=f"Doc {n}",
        source=f"/data/doc{n}.txt",
    )
    return ScoredChunk(chunk, score=score, dense_score=dense)
