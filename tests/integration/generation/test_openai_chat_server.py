"""OpenAIChatModel against a real OpenAI-compatible server (llama.cpp serving SmolLM2-135M):
non-streaming, streaming, vLLM-style extras, server down, timeout."""

from __future__ import annotations

import time

import pytest

from core.errors import LLMTimeout, LLMUnavailable
from core.settings import LLMSettings
from core.types import ChatMessage
from generation.factory import build_chat_model
from generation.openai_chat import OpenAIChatModel
from tests.support.services import LLMServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MESSAGES = [
    ChatMessage("system", "You answer in one short sentence."),
    ChatMessage("user", "What is the capital of France?"),
]


@pytest.fixture(scope="module")
def model(llm_server: LLMServer) -> OpenAIChatModel:
    settings = LLMSettings(
        base_url=llm_server.base_url, model=llm_server.model, max_tokens=16, temperature=0.0, timeout_s=60
    )
    chat = build_chat_model(settings)
    assert isinstance(chat, OpenAIChatModel)
    return chat


def test_complete_returns_text_and_usage(model: OpenAIChatModel) -> None:
    text, usage = model.complete(MESSAGES)
    assert text.strip()
    assert usage.prompt_tokens > 10
    assert 0 < usage.completion_tokens <= 16


def test_max_tokens_bounds_the_completion(model: OpenAIChatModel) -> None:
    _, usage = model.complete([ChatMessage("user", "Count from one to one hundred in words.")], max_tokens=5)
    assert usage.completion_tokens <= 5


def test_stream_yields_several_deltas_and_usage(model: OpenAIChatModel) -> None:
    stream = model.stream(MESSAGES, max_tokens=12)
    deltas = list(stream)
    assert len(deltas) >= 2
    assert stream.completion_text.strip()
    assert stream.usage is not None and stream.usage.completion_tokens > 0
    assert stream.finish_reason in {"stop", "length"}


def test_extra_body_passes_through(llm_server: LLMServer) -> None:
    # top_k / repeat_penalty are vLLM sampling extras that llama.cpp's server accepts as well.
    model = OpenAIChatModel(
        llm_server.base_url, llm_server.model, max_tokens=8, extra_body={"top_k": 1, "repeat_penalty": 1.1}
    )
    text, _ = model.complete(MESSAGES)
    assert text.strip()


def test_server_down_is_llm_unavailable_after_bounded_retries(dead_url: str) -> None:
    model = OpenAIChatModel(dead_url, "any", max_retries=2, retry_backoff_s=0.05, timeout_s=5)
    started = time.monotonic()
    with pytest.raises(LLMUnavailable) as info:
        model.complete(MESSAGES)
    assert info.value.code == "llm_unavailable"
    assert time.monotonic() - started < 5
    with pytest.raises(LLMUnavailable):
        list(model.stream(MESSAGES))


def test_slow_answer_is_llm_timeout(llm_server: LLMServer) -> None:
    model = OpenAIChatModel(llm_server.base_url, llm_server.model, timeout_s=0.05, max_retries=2)
    long_prompt = [ChatMessage("user", "Describe the history of Paris in detail. " * 20)]
    started = time.monotonic()
    with pytest.raises(LLMTimeout) as info:
        model.complete(long_prompt, max_tokens=8)
    assert info.value.code == "llm_timeout"
    assert time.monotonic() - started < 2  # timeouts are not retried
    with pytest.raises(LLMTimeout):
        list(model.stream(long_prompt, max_tokens=8))
