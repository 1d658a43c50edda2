"""Traces of the answer path through the real app: one trace per question, from the route's server span
through the cache lookup, the answer (its guards, retrieval, evidence and, when confident, composition:
each a span the stage timer records) and the cache write; a repeated question is a cache hit with no answer span."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan

from api.app import create_app
from bootstrap.components import Components
from ingest.sources import iter_sources
from tests.support.api import COLLECTION, make_settings
from tests.support.services import delete_prefix
from tests.support.tracing import captured_spans

OTTER = "How do otters keep themselves warm without blubber?"
GUARDED = ("answer.input_guard", "answer.retrieve", "answer.context_guard", "answer.evidence")


@pytest.fixture(scope="module")
def traced_client(tmp_path_factory: pytest.TempPathFactory, redis_url: str, embedder: Any,
                  corpus_dir: Path) -> Iterator[TestClient]:
    """Extractive answers (no model) over the otter article, with tracing on (into the test's exporter)."""
    prefix = f"ragqa-test-traces-{uuid.uuid4().hex[:8]}:"
    settings = make_settings(tmp_path_factory.mktemp("traces"), redis_url, prefix, "http://127.0.0.1:9/v1",
                             answer={"mode": "extractive"}, llm={"base_url": None}, retrieval={"top_k": 4},
                             tracing={"exporter": "console"})  # fmt: skip
    parts = Components(settings)
    parts.__dict__["embedder"] = embedder
    report = parts.pipeline.ingest([s for s in iter_sources([corpus_dir]) if s.doc_id == "set1/a7.txt"], COLLECTION)
    assert report.counts()["added"] == 1
    with captured_spans():  # installs the test's provider first: the app finds tracing on and adds its spans
        app = create_app(settings, parts)
    try:
        with TestClient(app) as client:
            yield client
    finally:
        parts.close()
        delete_prefix(redis_url, prefix)


def by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    named: dict[str, ReadableSpan] = {}
    for s in spans:
        assert s.name not in named, f"two spans named {s.name}"
        named[s.name] = s
    return named


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def test_an_answer_is_one_trace_from_the_route_through_cache_guards_retrieval_and_evidence(
        traced_client: TestClient) -> None:
    with captured_spans() as exporter:
        response = traced_client.post("/ask", json={"question": OTTER, "collection": COLLECTION})
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body["refused"] and body["mode"] == "extractive", body
    spans = by_name(exporter.get_finished_spans())

    route = spans["POST /ask"]
    assert route.parent is None and route.attributes is not None and route.attributes.get("http.route") == "/ask"
    assert {s.context.trace_id for s in spans.values()} == {route.context.trace_id}  # one trace, nothing else

    lookup, answer, save = spans["answer.cache.lookup"], spans["answer"], spans["answer.cache.save"]
    for child in (lookup, answer, save):
        assert parent_of(child) == route.context.span_id, child.name
    assert lookup.attributes == {"cache.result": "miss"} and save.attributes == {"cache.stored": True}
    assert answer.attributes is not None
    assert answer.attributes["answer.mode"] == "extractive" and answer.attributes["answer.refused"] is False
    assert answer.attributes["answer.citations"] == len(body["citations"]) > 0
    assert lookup.end_time <= answer.start_time and answer.end_time <= save.start_time  # type: ignore[operator]

    # The stages are the timer's: every stage the answer reports timing is a span under the answer, as long.
    stages = {f"answer.{stage}" for stage in body["timings_ms"]} - {"answer.total"}
    assert set(GUARDED) <= stages  # and "compose" when the evidence is confident
    for name in stages:
        stage = spans[name]
        assert parent_of(stage) == answer.context.span_id, name
        assert answer.start_time <= stage.start_time <= stage.end_time <= answer.end_time  # type: ignore[operator]
        took_ms = (stage.end_time - stage.start_time) / 1e6  # type: ignore[operator]
        assert took_ms == pytest.approx(body["timings_ms"][name.removeprefix("answer.")], abs=0.5), name
    assert set(spans) == {"POST /ask", "answer.cache.lookup", "answer", "answer.cache.save", *stages}


def test_a_cached_answer_is_a_lookup_hit_and_no_answer_span(traced_client: TestClient) -> None:
    question = {"question": "How many species of otter are there?", "collection": COLLECTION}
    assert traced_client.post("/ask", json=question).status_code == 200
    with captured_spans() as exporter:
        again = traced_client.post("/ask", json=question)
    assert again.status_code == 200 and again.json()["cached"] is True
    spans = by_name(exporter.get_finished_spans())
    assert set(spans) == {"POST /ask", "answer.cache.lookup"}
    assert spans["answer.cache.lookup"].attributes == {"cache.result": "hit"}
    assert parent_of(spans["answer.cache.lookup"]) == spans["POST /ask"].context.span_id


def test_a_callers_traceparent_is_continued(traced_client: TestClient) -> None:
    trace_id, caller = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    with captured_spans() as exporter:
        response = traced_client.post("/ask", headers={"traceparent": f"00-{trace_id}-{caller}-01"},
                                      json={"question": "How much do sea otters weigh?", "collection": COLLECTION})
    assert response.status_code == 200
    spans = by_name(exporter.get_finished_spans())
    assert {s.context.trace_id for s in spans.values()} == {int(trace_id, 16)}
    assert parent_of(spans["POST /ask"]) == int(caller, 16)


def test_a_streamed_answer_is_one_trace_too(traced_client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    """The answer's generator steps run in worker threads, each in a copy of the request's context: the
    ``answer`` span is held across them, never made current there, so nothing fails to detach."""
    with captured_spans() as exporter:
        response = traced_client.post("/ask", json={"question": "Are otters playful animals?",
                                                    "collection": COLLECTION, "stream": True})
    assert response.status_code == 200 and "event: done" in response.text, response.text
    spans = by_name(exporter.get_finished_spans())
    route = spans["POST /ask"]
    assert {s.context.trace_id for s in spans.values()} == {route.context.trace_id}
    assert parent_of(spans["answer"]) == route.context.span_id
    assert parent_of(spans["answer.retrieve"]) == spans["answer"].context.span_id
    assert parent_of(spans["answer.cache.save"]) == route.context.span_id
    assert not [r for r in caplog.records if "detach" in r.getMessage().lower()]
