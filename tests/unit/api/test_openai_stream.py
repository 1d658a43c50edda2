"""The OpenAI-compatible stream when the self-check replaced what was streamed: clients that show only
`content` see the replacement, announced, after the rejected text."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from api.answers import AnswerStream, Delta, Done, StreamEvent
from api.routes.openai import REPLACED_NOTE, chunks


def payload(text: str, degraded: str | None) -> dict[str, Any]:
    return {"answer_id": "a", "text": text, "refused": False, "degraded": degraded, "cached": False,
            "prompt_version": "rag-v1", "model": "m", "timings_ms": {}, "mode": "extractive", "grounded": 1.0,
            "claims": [], "citations": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def frames(events: list[StreamEvent]) -> list[dict[str, Any]]:
    async def source() -> AsyncIterator[StreamEvent]:
        for event in events:
            yield event

    async def collect() -> list[dict[str, Any]]:
        out = []
        async for sse in chunks(AnswerStream("a", source()), "docs"):
            if sse.data != "[DONE]":
                out.append(json.loads(str(sse.data)))
        return out

    return asyncio.run(collect())


def contents(events: list[StreamEvent]) -> list[str]:
    return [frame["choices"][0]["delta"].get("content", "") for frame in frames(events)]


def test_a_replaced_generation_is_followed_by_the_announced_replacement() -> None:
    streamed = contents([Delta("The moon is "), Delta("cheese."), Done(payload("Otters eat fish. [1]",
                                                                               "ungrounded_generation"))])
    assert streamed[:2] == ["The moon is ", "cheese."]
    assert streamed[2] == f"\n\n---\n{REPLACED_NOTE}: Otters eat fish. [1]"
    assert streamed[3] == ""  # the final chunk: finish_reason, citations, ragqa


def test_a_kept_generation_streams_as_it_was() -> None:
    assert contents([Delta("Otters eat "), Delta("fish. [1]"), Done(payload("Otters eat fish. [1]", None))]) == [
        "Otters eat ", "fish. [1]", ""]


def test_every_chunk_bears_the_answers_id() -> None:
    chunks_seen = frames([Delta("Otters eat "), Delta("fish. [1]"), Done(payload("Otters eat fish. [1]", None))])
    assert {frame["id"] for frame in chunks_seen} == {"chatcmpl-a"}
    assert chunks_seen[-1]["ragqa"]["answer_id"] == "a"
