"""A scripted chat model: it stands in for the LLM where a test needs one exact output (a loop,
an unsupported claim) to drive the answerer's self-check; everything around it is real."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from core.types import ChatMessage, TokenUsage
from generation.chat import ChatStream


@dataclass
class ScriptedChatModel:
    """Replies ``reply`` to every call, streamed in ``step``-character deltas; counts calls and deltas."""

    reply: str
    step: int = 4
    model_name: str = "scripted"
    calls: int = 0
    deltas_sent: int = 0
    messages: list[list[ChatMessage]] = field(default_factory=list)

    def complete(self, messages: Sequence[ChatMessage], max_tokens: int | None = None) -> tuple[str, TokenUsage]:
        self.calls += 1
        self.messages.append(list(messages))
        return self.reply, TokenUsage(100, len(self.reply.split()))

    def stream(self, messages: Sequence[ChatMessage], max_tokens: int | None = None) -> ChatStream:
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

    def complete(self, messages: Sequence[ChatMessage], max_tokens: int | None = None) -> tuple[str, TokenUsage]:
        raise AssertionError("the LLM was called")

    def stream(self, messages: Sequence[ChatMessage], max_tokens: int | None = None) -> Iterator[str]:
        raise AssertionError("the LLM was called")

    def count_tokens(self, text: str) -> int:
        raise AssertionError("the LLM was called")
