"""Chooses the chat-model backend from settings.

>>> from core.settings import LLMSettings
>>> model = build_chat_model(LLMSettings(base_url="http://vllm:8000/v1"))
>>> type(model).__name__
'OpenAIChatModel'
"""

from __future__ import annotations

from core.protocols import ChatModel
from core.settings import LLMSettings


def build_chat_model(settings: LLMSettings) -> ChatModel:
    """``OpenAIChatModel`` when ``base_url`` is set (vLLM or any compatible server), else the
    embedded ``LlamaCppChatModel``. Backends import lazily so neither is loaded unless used."""
    if settings.base_url:
        from generation.openai_chat import OpenAIChatModel

        return OpenAIChatModel.from_settings(settings)
    from generation.llamacpp_chat import LlamaCppChatModel

    return LlamaCppChatModel.from_settings(settings)
