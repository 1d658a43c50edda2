"""Chooses the chat-model backend from settings.

>>> from core.settings import LLMSettings
>>> model = build_chat_model(LLMSettings(base_url="http://vllm:8000/v1"))
>>> type(model).__name__
'OpenAIChatModel'
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from core.protocols import ChatModel, GenerationOptions
from core.settings import LLMSettings
from core.types import ChatMessage, TokenUsage


def build_chat_model(settings: LLMSettings, lazy: bool = False) -> ChatModel:
    """``OpenAIChatModel`` when ``base_url`` is set (vLLM or any compatible server), else the
    embedded ``LlamaCppChatModel``. Backends import lazily so neither is loaded unless used;
    with ``lazy`` the model itself is built on its first call (extractive answers never make one)."""
    if lazy:
        return LazyChatModel(settings)
    if settings.base_url:
        from generation.openai_chat import OpenAIChatModel

        return OpenAIChatModel.from_settings(settings)
    from generation.llamacpp_chat import LlamaCppChatModel

    return LlamaCppChatModel.from_settings(settings)


class LazyChatModel:
    """A ``ChatModel`` that builds the configured backend on its first use (once, thread-safe).

    Example::

        model = LazyChatModel(settings.llm)   # nothing loaded yet
        model.model_name                      # still nothing loaded
        model.complete(messages)              # loads, then generates
    """

    def __init__(self, settings: LLMSettings) -> None:
        self._settings = settings
        self._model: ChatModel | None = None
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return self._settings.model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _built(self) -> ChatModel:
        with self._lock:
            if self._model is None:
                self._model = build_chat_model(self._settings)
            return self._model

    def complete(self, messages: Sequence[ChatMessage], max_tokens: int | None = None,
                 options: GenerationOptions | None = None) -> tuple[str, TokenUsage]:
        return self._built().complete(messages, max_tokens, options)

    def stream(self, messages: Sequence[ChatMessage], max_tokens: int | None = None,
               options: GenerationOptions | None = None) -> Iterator[str]:
        return self._built().stream(messages, max_tokens, options)

    def count_tokens(self, text: str) -> int:
        return self._built().count_tokens(text)
