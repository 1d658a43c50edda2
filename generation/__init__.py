"""Generation: prompt templates, guardrails, the chat-model backends and the Answerer.

Imports only ``core``; receives retrieved chunks through ``core.protocols.Retriever``.
``openai`` and ``llama_cpp`` are used only here (``llama_cpp`` lazily, when the embedded
model is built).

    from generation import Answerer
    answerer = Answerer.from_settings(settings, retriever)   # bootstrap.Components builds the full one
    answer = answerer.ask(AnswerRequest("Who built the bridge?", "docs"))   # core.answer_request
"""

from generation.answerer import Answerer
from generation.answers import AnswerDelta, AnswerDone, AnswerEvent
from generation.chat import ChatStream
from generation.factory import build_chat_model
from generation.guardrails import (
    ContextGuard,
    InjectionDetector,
    InputGuard,
    RefusalPolicy,
    validate_citations,
)
from generation.llamacpp_chat import LlamaCppChatModel, default_gguf_path
from generation.openai_chat import OpenAIChatModel
from generation.prompts import PromptTemplate, available_prompts, load_prompt

__all__ = [
    "AnswerDelta",
    "AnswerDone",
    "AnswerEvent",
    "Answerer",
    "ChatStream",
    "ContextGuard",
    "InjectionDetector",
    "InputGuard",
    "LlamaCppChatModel",
    "OpenAIChatModel",
    "PromptTemplate",
    "RefusalPolicy",
    "available_prompts",
    "build_chat_model",
    "default_gguf_path",
    "load_prompt",
    "validate_citations",
]
