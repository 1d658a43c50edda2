"""The exporters `RAGQA_TRACING__EXPORTER` chooses, each on a provider of the test's own (the process's
global one belongs to ``tests.support.tracing``): OTLP/HTTP reaches a receiver on loopback as protobuf,
and off installs nothing."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from bootstrap.tracing import install_tracing, span_processor
from core.tracing_settings import TracingSettings


class _Receiver(http.server.BaseHTTPRequestHandler):
    posts: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.posts.append((self.path, self.headers.get("content-type", ""), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    """An OTLP/HTTP traces endpoint on 127.0.0.1 that keeps what it is sent."""
    _Receiver.posts = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1/traces", _Receiver.posts
    server.shutdown()
    server.server_close()


def test_otlp_sends_the_spans_to_the_configured_endpoint(receiver: tuple[str, list[tuple[str, str, bytes]]]) -> None:
    url, posts = receiver
    provider = TracerProvider(resource=Resource.create({"service.name": "ragqa-test"}), shutdown_on_exit=False)
    provider.add_span_processor(span_processor(TracingSettings(exporter="otlp", otlp_endpoint=url)))
    with provider.get_tracer("test").start_as_current_span("answer", attributes={"answer.mode": "extractive"}):
        pass
    assert provider.force_flush(10_000)
    provider.shutdown()
    assert len(posts) == 1
    path, content_type, body = posts[0]
    assert path == "/v1/traces" and content_type == "application/x-protobuf"
    sent = ExportTraceServiceRequest.FromString(body)
    spans = [s for rs in sent.resource_spans for scope in rs.scope_spans for s in scope.spans]
    assert [s.name for s in spans] == ["answer"]
    assert {a.key: a.value.string_value for a in sent.resource_spans[0].resource.attributes}["service.name"] == \
        "ragqa-test"


def test_off_installs_nothing() -> None:
    assert install_tracing(TracingSettings(), "ragqa-api") is False
    assert TracingSettings(exporter="file").enabled and not TracingSettings().enabled
