"""Fakes the suites share: chat models (replies in turn, one scripted reply, or none allowed), a
retriever returning fixed chunks, and the chunks themselves. Each implements its protocol
(``core.protocols.ChatModel``, ``Retriever``) whole, options included: production code never bends
around a fake.

They stand in only where a test is about something else (guards, citations, the Answerer's control
flow, generation on fixed passages); the real backends are exercised in the integration suites.

    >>> answerer = assemble_answerer(FakeRetriever(lincoln_chunks()), FakeChatModel())  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from core.errors import RagqaError
from core.protocols import ChatModel, Embedder, GenerationOptions, Retriever
from core.types import ChatMessage, Chunk, FusionMode, ScoredChunk, SearchFilters, TokenUsage
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

    def complete(self, messages: Sequence[ChatMessage], max_tokens: int | None = None,
                 options: GenerationOptions | None = None) -> tuple[str, TokenUsage]:
        text = self._next(messages)
        return text, TokenUsage(prompt_tokens=100, completion_tokens=len(text.split()))

    def stream(self, messages: Sequence[ChatMessage], max_tokens: int | None = None,
               options: GenerationOptions | None = None) -> ChatStream:
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
class ScriptedChatModel:
    """Replies ``reply`` to every call, streamed in ``step``-character deltas; counts calls and deltas.

    It stands in for the LLM where a test needs one exact output (a loop, an unsupported claim) to
    drive the answerer's self-check; everything around it is real.
    """

    reply: str
    step: int = 4
    model_name: str = "scripted"
    calls: int = 0
    deltas_sent: int = 0
    messages: list[list[ChatMessage]] = field(default_factory=list)

    def complete(self, messages: Sequence[ChatMessage], max_tokens: int | None = None,
                 options: GenerationOptions | None = None) -> tuple[str, TokenUsage]:
        self.calls += 1
        self.messages.append(list(messages))
        return self.reply, TokenUsage(100, len(self.reply.split()))

    def stream(self, messages: Sequence[ChatMessage], max_tokens: int | None = None,
               options: GenerationOptions | None = None) -> ChatStream:
        self.calls += 1
        self.messages.append(list(messages))

        def deltas() -> Iterator[str]:
            for i in range(0, len(self.reply), self.step):
                self.deltas_sent += 1
                yield self.reply[i : i + self.step]

        return ChatStream(deltas())

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)


class UncallableChatModel:
    """Fails the test if anything asks it to generate: extractive answers must not."""

    model_name = "must-not-be-called"

    def complete(self, messages: Sequence[ChatMessage], max_tokens: int | None = None,
                 options: GenerationOptions | None = None) -> tuple[str, TokenUsage]:
        raise AssertionError("the LLM was called")

    def stream(self, messages: Sequence[ChatMessage], max_tokens: int | None = None,
               options: GenerationOptions | None = None) -> Iterator[str]:
        raise AssertionError("the LLM was called")

    def count_tokens(self, text: str) -> int:
        raise AssertionError("the LLM was called")


@dataclass
class FakeRetriever:
    """Returns fixed chunks (the first ``top_k``) and records the queries: for tests about generation, not ranking."""

    chunks: list[ScoredChunk]
    queries: list[str] = field(default_factory=list)
    modes: list[FusionMode | None] = field(default_factory=list)  # each search's fusion, as asked

    def search(
        self, query: str, collection: str, top_k: int = 8, filters: SearchFilters | None = None, *,
        mode: FusionMode | None = None,
    ) -> list[ScoredChunk]:
        self.queries.append(query)
        self.modes.append(mode)
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


def lincoln_chunks(dense: float = 0.62) -> list[ScoredChunk]:
    """Three real passages of cmu-qa-dev's Abraham Lincoln article (set3/a4.txt), best first."""
    texts = [
        "Abraham Lincoln was the sixteenth President of the United States, serving from March 1861 "
        "until his assassination in April 1865.",
        "Lincoln was born on February 12, 1809, in a one-room log cabin on the Sinking Spring Farm "
        "in Hardin County, Kentucky.",
        "Lincoln began his political career in 1832, at age 23, with a campaign for the Illinois General Assembly.",
    ]
    return [
        ScoredChunk(
            Chunk(
                f"a4#{i}",
                "set3/a4.txt",
                i,
                text,
                200 * i,
                200 * i + len(text),
                title="Abraham Lincoln",
                source="articles/set3/a4.txt",
            ),
            score=0.03 - i * 0.001,
            dense_score=dense - i * 0.05,
        )
        for i, text in enumerate(texts)
    ]


def _implements_the_protocols() -> tuple[ChatModel, ChatModel, ChatModel, Retriever]:
    """Never called: mypy checks tests/support, so each fake here is a whole ``core.protocols``
    implementation (a fake missing a method or an argument fails the type check)."""
    return FakeChatModel(), ScriptedChatModel("x"), UncallableChatModel(), FakeRetriever([])


class FakeEmbedder:
    """A whole ``core.protocols.Embedder`` for unit tests of what embeds (no model): one word is one
    token, and a text's vector is its length in the first component (so a test can match rows to
    texts)."""

    model_name = "fake"
    identity = "fake/test"
    dimension = 4
    max_seq_length = 256

    def tokenize(self, text: str) -> list[int]:
        return list(range(len(text.split())))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def embed_documents(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return np.array([[len(t), 0, 0, 0] for t in texts], dtype=np.float32).reshape(len(texts), self.dimension)

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        return self.embed_documents([text])[0]


def _an_embedder() -> Embedder:
    """Never called: mypy checks that ``FakeEmbedder`` is a whole ``Embedder``."""
    return FakeEmbedder()
