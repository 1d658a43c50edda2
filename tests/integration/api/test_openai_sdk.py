"""The OpenAI-compatible endpoint through the official `openai` client, against a real uvicorn server."""

from __future__ import annotations

import openai
import pytest
from openai import OpenAI

from tests.support.api import LiveServer

QUESTION = "What colour are a duck's feathers?"


@pytest.fixture(scope="module")
def sdk(live_server: LiveServer) -> OpenAI:
    return OpenAI(base_url=f"{live_server.url}/v1", api_key="unused-without-keys", timeout=120, max_retries=0)


def test_models_are_the_collections(sdk: OpenAI) -> None:
    assert "docs" in {model.id for model in sdk.models.list()}


def test_completion_with_citations_extension(sdk: OpenAI) -> None:
    completion = sdk.chat.completions.create(model="docs", messages=[{"role": "user", "content": QUESTION}])
    assert completion.object == "chat.completion"
    assert completion.model == "docs"
    message = completion.choices[0].message
    assert message.role == "assistant" and message.content
    assert completion.choices[0].finish_reason == "stop"
    extra = completion.model_extra or {}
    assert isinstance(extra["citations"], list)
    for citation in extra["citations"]:
        assert citation["doc_id"].startswith("set1/") and citation["end"] > citation["start"]
        # The sentence that supports the answer, inside the passage, shown whole in the snippet.
        quote = citation["quote"]
        assert citation["start"] <= quote["start"] < quote["end"] <= citation["end"]
        assert " ".join(quote["text"].split()) in citation["snippet"]
    assert extra["ragqa"]["answer_id"] and extra["ragqa"]["cached"] is False
    assert extra["ragqa"]["mode"] in ("extractive", "generative", "refusal")
    assert all(set(claim) >= {"text", "citations", "supported", "quote"} for claim in extra["ragqa"]["claims"])
    assert completion.usage is not None and completion.usage.prompt_tokens > 0


def test_streaming_completion(sdk: OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model="docs", stream=True,
        messages=[{"role": "system", "content": "You are helpful."},
                  {"role": "user", "content": [{"type": "text", "text": "Where do ducks live?"}]}],
    )  # fmt: skip
    chunks = list(stream)
    assert chunks, "no chunks"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    extra = last.model_extra or {}
    assert "citations" in extra and "ragqa" in extra
    assert text.strip()
    assert all(c.object == "chat.completion.chunk" for c in chunks)


def test_errors_reach_the_sdk_as_status_errors(sdk: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        sdk.chat.completions.create(model="no-such-collection", messages=[{"role": "user", "content": "hi"}])
    assert raised.value.status_code == 404
    with pytest.raises(openai.BadRequestError):
        sdk.chat.completions.create(model="docs", messages=[{"role": "assistant", "content": "hi"}])
