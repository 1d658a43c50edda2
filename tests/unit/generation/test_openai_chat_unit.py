"""OpenAIChatModel against an in-memory transport (no sockets): requests, retries, error mapping,
streaming and usage."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from core.errors import LLMError, LLMTimeout, LLMUnavailable
from core.types import ChatMessage
from generation.openai_chat import OpenAIChatModel

MESSAGES = [ChatMessage("system", "Be brief."), ChatMessage("user", "Capital of France?")]
Handler = Callable[[httpx.Request], httpx.Response]


def completion(text: str = "Paris [1].", usage: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "c1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
    }
    if usage:
        body["usage"] = {"prompt_tokens": 21, "completion_tokens": 4, "total_tokens": 25}
    return body


def sse(deltas: list[str], usage: bool) -> bytes:
    events = []
    for i, delta in enumerate(deltas):
        finish = "stop" if i == len(deltas) - 1 else None
        chunk = {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": delta}, "finish_reason": finish}],
        }
        events.append(f"data: {json.dumps(chunk)}\n\n")
    if usage:
        usage_body = {"prompt_tokens": 21, "completion_tokens": len(deltas), "total_tokens": 21 + len(deltas)}
        tail = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": []}
        tail["usage"] = usage_body
        events.append(f"data: {json.dumps(tail)}\n\n")
    events.append("data: [DONE]\n\n")
    return "".join(events).encode()


class Recorder:
    def __init__(self, responses: list[httpx.Response | Exception]) -> None:
        self.responses = responses
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(json.loads(request.content))
        item = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(item, Exception):
            raise item
        return item


def make_model(recorder: Recorder, **kwargs: Any) -> tuple[OpenAIChatModel, list[float]]:
    sleeps: list[float] = []
    model = OpenAIChatModel(
        "http://llm.test/v1",
        "test-model",
        http_client=httpx.Client(transport=httpx.MockTransport(recorder)),
        sleep=sleeps.append,
        **kwargs,
    )
    return model, sleeps


def test_complete_sends_settings_and_reports_usage() -> None:
    recorder = Recorder([httpx.Response(200, json=completion())])
    model, _ = make_model(recorder, max_tokens=77, temperature=0.3, seed=5, extra_body={"top_k": 20})
    text, usage = model.complete(MESSAGES)
    assert text == "Paris [1]."
    assert (usage.prompt_tokens, usage.completion_tokens) == (21, 4)
    sent = recorder.requests[0]
    assert sent["model"] == "test-model"
    assert sent["max_tokens"] == 77 and sent["temperature"] == 0.3 and sent["seed"] == 5
    assert sent["top_k"] == 20  # vLLM extras travel in the body
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}


def test_max_tokens_per_call_overrides_default() -> None:
    recorder = Recorder([httpx.Response(200, json=completion())])
    model, _ = make_model(recorder, max_tokens=77)
    model.complete(MESSAGES, max_tokens=5)
    assert recorder.requests[0]["max_tokens"] == 5


def test_usage_is_estimated_when_the_server_sends_none() -> None:
    model, _ = make_model(Recorder([httpx.Response(200, json=completion(usage=False))]))
    _, usage = model.complete(MESSAGES)
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0


@pytest.mark.parametrize("status", [429, 500, 503])
def test_retries_transient_statuses_then_succeeds(status: int) -> None:
    recorder = Recorder([httpx.Response(status, json={"error": "busy"}), httpx.Response(200, json=completion())])
    model, sleeps = make_model(recorder, max_retries=2, retry_backoff_s=0.5)
    assert model.complete(MESSAGES)[0] == "Paris [1]."
    assert len(recorder.requests) == 2
    assert len(sleeps) == 1 and 0.5 <= sleeps[0] <= 0.625


def test_backoff_doubles_and_gives_up_as_unavailable() -> None:
    recorder = Recorder([httpx.Response(503, json={"error": "down"})])
    model, sleeps = make_model(recorder, max_retries=3, retry_backoff_s=1.0)
    with pytest.raises(LLMUnavailable) as info:
        model.complete(MESSAGES)
    assert "503" in info.value.message
    assert len(recorder.requests) == 4
    # Exponential, plus up to 25% jitter.
    assert [base <= s <= base * 1.25 for base, s in zip([1, 2, 4], sleeps, strict=True)] == [True] * 3


def test_retry_after_header_is_honoured() -> None:
    recorder = Recorder([httpx.Response(429, headers={"retry-after": "3"}), httpx.Response(200, json=completion())])
    model, sleeps = make_model(recorder)
    model.complete(MESSAGES)
    assert sleeps == [3.0]


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_client_errors_are_not_retried(status: int) -> None:
    recorder = Recorder([httpx.Response(status, json={"message": "bad request: context too long"})])
    model, sleeps = make_model(recorder, max_retries=3)
    with pytest.raises(LLMError) as info:
        model.complete(MESSAGES)
    assert type(info.value) is LLMError
    assert str(status) in info.value.message
    assert sleeps == [] and len(recorder.requests) == 1


def test_connection_refused_is_unavailable_after_retries() -> None:
    recorder = Recorder([httpx.ConnectError("connection refused")])
    model, sleeps = make_model(recorder, max_retries=2)
    with pytest.raises(LLMUnavailable):
        model.complete(MESSAGES)
    assert len(recorder.requests) == 3 and len(sleeps) == 2


def test_timeout_is_llm_timeout_without_retry() -> None:
    recorder = Recorder([httpx.ReadTimeout("timed out")])
    model, sleeps = make_model(recorder, max_retries=2, timeout_s=1.5)
    with pytest.raises(LLMTimeout) as info:
        model.complete(MESSAGES)
    assert info.value.transient
    assert "1.5" in info.value.message
    assert sleeps == []


def test_stream_yields_deltas_and_usage() -> None:
    body = sse(["Par", "is ", "[1]."], usage=True)
    recorder = Recorder([httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})])
    model, _ = make_model(recorder)
    stream = model.stream(MESSAGES)
    assert list(stream) == ["Par", "is ", "[1]."]
    assert stream.completion_text == "Paris [1]."
    assert stream.usage is not None and stream.usage.completion_tokens == 3
    assert stream.finish_reason == "stop"
    assert recorder.requests[0]["stream"] is True
    assert recorder.requests[0]["stream_options"] == {"include_usage": True}


def test_stream_estimates_usage_without_a_usage_chunk() -> None:
    body = sse(["Hello", " there"], usage=False)
    model, _ = make_model(Recorder([httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})]))
    stream = model.stream(MESSAGES)
    list(stream)
    assert stream.usage is not None and stream.usage.prompt_tokens > 0


def test_stream_opening_is_retried_and_errors_are_translated() -> None:
    body = sse(["ok"], usage=False)
    recorder = Recorder([
        httpx.Response(502, json={"error": "bad gateway"}),
        httpx.Response(200, content=body, headers={"content-type": "text/event-stream"}),
    ])  # fmt: skip
    model, sleeps = make_model(recorder)
    assert list(model.stream(MESSAGES)) == ["ok"]
    assert len(sleeps) == 1
    model, _ = make_model(Recorder([httpx.ConnectError("refused")]), max_retries=0)
    with pytest.raises(LLMUnavailable):
        list(model.stream(MESSAGES))


def test_nothing_is_sent_until_the_stream_is_read() -> None:
    recorder = Recorder([httpx.Response(200, content=sse(["x"], usage=False))])
    model, _ = make_model(recorder)
    stream = model.stream(MESSAGES)
    assert recorder.requests == []
    list(stream)
    assert len(recorder.requests) == 1
