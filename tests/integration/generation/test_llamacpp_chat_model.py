"""The embedded backend: llama-cpp-python in-process with SmolLM2, same protocol, streaming included."""

from __future__ import annotations

import copy
import time
from pathlib import Path

import pytest

from core.deadlines import deadline_after
from core.errors import LLMTimeout, LLMUnavailable
from core.protocols import ChatModel
from core.settings import LLMSettings
from core.types import ChatMessage
from generation.factory import build_chat_model
from generation.llamacpp_chat import LlamaCppChatModel

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MESSAGES = [ChatMessage("user", "Name one planet of the solar system.")]


def test_implements_the_chat_model_protocol(llamacpp_model: LlamaCppChatModel) -> None:
    assert isinstance(llamacpp_model, ChatModel)


def test_complete_returns_text_and_usage(llamacpp_model: LlamaCppChatModel) -> None:
    text, usage = llamacpp_model.complete(MESSAGES, max_tokens=12)
    assert text.strip()
    assert usage.prompt_tokens > 5
    assert 0 < usage.completion_tokens <= 12


def test_stream_yields_deltas_and_usage(llamacpp_model: LlamaCppChatModel) -> None:
    stream = llamacpp_model.stream(MESSAGES, max_tokens=10)
    deltas = list(stream)
    assert len(deltas) >= 2
    assert stream.usage is not None
    assert stream.usage.completion_tokens == len(deltas)
    assert stream.usage.prompt_tokens > 5


def test_count_tokens_uses_the_model_tokenizer(llamacpp_model: LlamaCppChatModel) -> None:
    assert llamacpp_model.count_tokens("Paris is the capital of France.") == 7
    assert llamacpp_model.count_tokens("") == 0


def test_a_generation_past_the_deadline_is_llm_timeout(gguf_path: Path) -> None:
    model = LlamaCppChatModel(gguf_path, n_threads=2, timeout_s=0.01, n_ctx=512)
    with pytest.raises(LLMTimeout):
        model.complete([ChatMessage("user", "Write a long story about a cat.")], max_tokens=64)


def test_factory_defaults_to_the_embedded_model(gguf_path: Path) -> None:
    model = build_chat_model(LLMSettings(max_tokens=4, n_threads=2, context_window=512))
    assert isinstance(model, LlamaCppChatModel)
    assert model.complete(MESSAGES)[1].completion_tokens <= 4


def test_a_turn_is_waited_for_only_until_the_deadline_and_only_behind_few_others(
        llamacpp_model: LlamaCppChatModel) -> None:
    held = llamacpp_model.stream(MESSAGES, max_tokens=64)
    next(iter(held))  # this generation now holds the model
    try:
        started = time.monotonic()
        with deadline_after(0.5), pytest.raises(LLMTimeout, match="no turn free before the answer's deadline"):
            llamacpp_model.complete(MESSAGES, max_tokens=4)
        assert time.monotonic() - started < 2.0
        crowded = copy.copy(llamacpp_model)
        crowded._max_waiting = 0  # a full queue: the caller is told at once, not queued
        started = time.monotonic()
        with pytest.raises(LLMUnavailable, match="busy"):
            crowded.complete(MESSAGES, max_tokens=4)
        assert time.monotonic() - started < 0.5
    finally:
        held.close()
    assert llamacpp_model.complete(MESSAGES, max_tokens=4)[0]  # closed: the model is free again
