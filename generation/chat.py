"""Pieces shared by the chat-model backends: a stream that reports usage when it ends.

``core.protocols.ChatModel.stream`` returns an ``Iterator[str]``; our backends return a
``ChatStream``, which is one, and also carries the token usage and finish reason once
exhausted. Keeping these on the stream (not on the model) keeps a shared model thread-safe.

    >>> stream = ChatStream(iter(["Hel", "lo"]))
    >>> "".join(stream), stream.completion_text
    ('Hello', 'Hello')
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from core.types import ChatMessage, TokenUsage
from generation.tokens import TokenCounter, count_message_tokens


class ChatStream(Iterator[str]):
    """Text deltas of one streamed completion; ``usage`` is set when the stream ends.

    Example::

        stream = model.stream(messages)
        for delta in stream:
            print(delta, end="")
        print(stream.usage)
    """

    def __init__(self, deltas: Iterator[str]) -> None:
        self._deltas = deltas
        self._parts: list[str] = []
        self.usage: TokenUsage | None = None
        self.finish_reason: str | None = None
        self.done = False

    def __iter__(self) -> ChatStream:
        return self

    def __next__(self) -> str:
        try:
            delta = next(self._deltas)
        except StopIteration:
            self.done = True
            raise
        self._parts.append(delta)
        return delta

    def close(self) -> None:
        """Stop early (frees the backend: an HTTP response, or the llama.cpp lock)."""
        close = getattr(self._deltas, "close", None)
        if close is not None:
            close()

    @property
    def completion_text(self) -> str:
        return "".join(self._parts)


def estimate_usage(messages: Sequence[ChatMessage], completion: str, count: TokenCounter) -> TokenUsage:
    """Usage when the backend reports none: counted with ``count`` (a tokenizer or an estimate)."""
    return TokenUsage(
        prompt_tokens=count_message_tokens(messages, count),
        completion_tokens=count(completion) if completion else 0,
    )


def to_wire_messages(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]
