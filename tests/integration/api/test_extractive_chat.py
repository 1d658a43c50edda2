"""Conversations on the embedded default (extractive answers): follow-ups are resolved from the
conversation without a model ("And where does it live?", "Tell me more.", "Why?"), through ``/chat``,
``/chat`` streamed and ``/v1/chat/completions``; the answer's ``confidence`` is on every surface."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from bootstrap.components import Components
from tests.support.api import make_settings, sharing
from tests.support.services import LLMServer

OTTER = [{"role": "user", "content": "Which continents does the Eurasian otter live on?"},
         {"role": "assistant", "content": "It inhabits Europe and most of Asia [1]."}]


@pytest.fixture(scope="module")
def extractive(components: Components, redis_url: str, key_prefix: str, llm_server: LLMServer,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Components]]:
    settings = make_settings(tmp_path_factory.mktemp("extractive-chat"), redis_url, key_prefix + "xchat:",
                             llm_server.base_url, answer={"mode": "extractive"}, retrieval={"top_k": 4},
                             llm={"base_url": None})  # the embedded model: loaded only if called  # fmt: skip
    parts = sharing(components, settings)
    with TestClient(create_app(settings, parts)) as client:
        yield client, parts


def cited_docs(body: dict[str, Any]) -> set[str]:
    return {c["doc_id"] for c in body["citations"]}


def test_follow_ups_are_answered_from_the_conversations_document_with_no_model(
        extractive: tuple[TestClient, Components]) -> None:
    client, parts = extractive
    for follow_up in ("And where else?", "Tell me more.", "Why?", "What about the giant otter?"):
        response = client.post("/chat", json={"messages": [*OTTER, {"role": "user", "content": follow_up}]})
        assert response.status_code == 200, response.text
        body = response.json()
        assert not body["refused"], (follow_up, body["text"])
        assert cited_docs(body) == {"set1/a7.txt"}, (follow_up, body["citations"])  # the otter article
        assert body["mode"] == "extractive" and body["confidence"] in ("high", "low")
    assert not parts.answerer.chat_model.loaded  # type: ignore[attr-defined]  # no LLM was loaded


def test_tell_me_more_shows_other_sentences_than_the_last_answer(extractive: tuple[TestClient, Components]) -> None:
    client, _ = extractive
    first = client.post("/chat", json={"messages": [OTTER[0]]}).json()
    shown = [c["quote"]["text"] for c in first["citations"]]
    more = client.post("/chat", json={"messages": [OTTER[0], {"role": "assistant", "content": first["text"]},
                                                   {"role": "user", "content": "Tell me more."}]}).json()
    assert more["citations"] and more["citations"][0]["quote"]["text"] not in shown


def test_confidence_is_on_every_surface(extractive: tuple[TestClient, Components]) -> None:
    client, _ = extractive
    refused = client.post("/ask", json={"question": "Who won the 1998 football World Cup?"}).json()
    assert refused["refused"] and refused["confidence"] == "none"
    answered = client.post("/ask", json={"question": "What does a kangaroo eat?"}).json()
    assert not answered["refused"] and answered["confidence"] in ("high", "low")
    if answered["confidence"] == "low":
        assert answered["text"].startswith("The documents may not answer this directly.")
    stream = client.post("/chat", json={"messages": [*OTTER, {"role": "user", "content": "Tell me more."}],
                                        "stream": True})  # fmt: skip
    done = [json.loads(line[len("data: "):]) for line in stream.text.splitlines() if line.startswith("data: {")]
    assert done and done[-1]["confidence"] in ("high", "low")
    completion = client.post("/v1/chat/completions", json={
        "model": "docs", "messages": [{"role": "user", "content": "Who won the 1998 football World Cup?"}]}).json()
    assert completion["ragqa"]["confidence"] == "none" and completion["ragqa"]["refused"]


def test_readiness_calls_the_unused_llm_unused_and_the_service_ready(extractive: tuple[TestClient, Components]) -> None:
    client, _ = extractive
    ready = client.get("/readyz").json()
    assert ready["checks"]["llm"]["status"] == "unused", ready
    assert ready["status"] == "ok", ready


def test_head_on_the_demo_page_and_process_metrics(extractive: tuple[TestClient, Components]) -> None:
    client, _ = extractive
    head = client.head("/")
    assert head.status_code == 200 and head.content == b""
    metrics = client.get("/metrics").text
    for name in ("process_resident_memory_bytes", "process_cpu_seconds_total", "python_info"):
        assert f"\n{name}" in metrics, name


def test_openai_max_tokens_cuts_an_extractive_answer_at_a_sentence(extractive: tuple[TestClient, Components]) -> None:
    client, parts = extractive
    ask = {"model": "docs", "messages": [{"role": "system", "content": "Answer briefly."},
                                         {"role": "user", "content": "What do otters eat?"}]}
    whole = client.post("/v1/chat/completions", json=ask).json()
    cut = client.post("/v1/chat/completions", json={**ask, "max_tokens": 20}).json()
    assert whole["ragqa"]["mode"] == "extractive" and whole["ragqa"]["usage_estimated"]
    assert whole["usage"]["completion_tokens"] > 20  # so there is something to cut
    assert cut["usage"]["completion_tokens"] <= 20 and cut["choices"][0]["finish_reason"] == "length"
    text = cut["choices"][0]["message"]["content"].split("\n\nSources:")[0]
    assert parts.embedder.count_tokens(text) <= 20
    assert whole["choices"][0]["message"]["content"].startswith(text.rsplit(" ", 1)[0])
    assert "\n\nSources:\n[" in whole["choices"][0]["message"]["content"]  # references in content by default
    bare = client.post("/v1/chat/completions", json={**ask, "ragqa": {"append_references": False}}).json()
    assert "Sources:" not in bare["choices"][0]["message"]["content"] and bare["citations"]


def test_an_openai_stream_bears_the_answer_id_of_its_done_chunk(extractive: tuple[TestClient, Components]) -> None:
    client, _ = extractive
    for _ in range(2):  # a fresh answer, then the cached one
        response = client.post("/v1/chat/completions", json={
            "model": "docs", "stream": True, "messages": [{"role": "user", "content": "What do otters eat?"}]})
        frames = [json.loads(line[len("data: "):]) for line in response.text.splitlines()
                  if line.startswith("data: {")]
        answer_id = frames[-1]["ragqa"]["answer_id"]
        assert {f["id"] for f in frames} == {f"chatcmpl-{answer_id}"}


def test_an_openai_stream_of_an_extractive_answer_keeps_to_max_tokens(
        extractive: tuple[TestClient, Components]) -> None:
    client, parts = extractive
    response = client.post("/v1/chat/completions", json={
        "model": "docs", "stream": True, "max_tokens": 20,
        "messages": [{"role": "user", "content": "What do otters eat?"}], "ragqa": {"append_references": False}})
    frames = [json.loads(line[len("data: "):]) for line in response.text.splitlines() if line.startswith("data: {")]
    text = "".join(f["choices"][0]["delta"].get("content", "") for f in frames)
    assert frames[-1]["choices"][0]["finish_reason"] == "length" and frames[-1]["usage"]["completion_tokens"] <= 20
    assert text and parts.embedder.count_tokens(text) <= 20
    assert {f["id"] for f in frames} == {f"chatcmpl-{frames[-1]['ragqa']['answer_id']}"}
