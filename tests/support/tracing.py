"""Spans in tests: the SDK's in-memory exporter in this process, and the JSON lines a worker process
writes with the ``file`` exporter.

OpenTelemetry admits one tracer provider per process, so the first ``captured_spans()`` installs one
for the rest of the test process; it records only while a test holds it (otherwise spans are made and
dropped at once). Create the app under test after entering it: the app then finds tracing installed.

    with captured_spans() as spans:
        client.post("/ask", json=...)
    names = {s.name for s in spans.get_finished_spans()}
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


class _Gate(SpanProcessor):
    """Hands ended spans to the exporter while open."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.open = False

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        if self.open:
            self.exporter.export([span])

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _gate() -> _Gate:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    gate: _Gate | None = getattr(provider, "_ragqa_test_gate", None)
    if gate is None:
        gate = _Gate()
        provider.add_span_processor(gate)
        provider._ragqa_test_gate = gate  # type: ignore[attr-defined]  # one gate per provider
    return gate


@contextmanager
def captured_spans() -> Iterator[InMemorySpanExporter]:
    """The spans that end in this process while the block runs."""
    gate = _gate()
    gate.exporter.clear()
    gate.open = True
    try:
        yield gate.exporter
    finally:
        gate.open = False


def hex_id(value: int, digits: int = 16) -> str:
    """A span or trace id as the SDK's JSON writes it (``0x`` and zero-padded hex)."""
    return f"0x{value:0{digits}x}"


@dataclass(frozen=True)
class FileSpan:
    """One line of the ``file`` exporter (``ReadableSpan.to_json``)."""

    raw: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.raw["name"])

    @property
    def trace_id(self) -> str:
        return str(self.raw["context"]["trace_id"])

    @property
    def span_id(self) -> str:
        return str(self.raw["context"]["span_id"])

    @property
    def parent_id(self) -> str | None:
        return self.raw.get("parent_id")

    @property
    def attributes(self) -> dict[str, Any]:
        return dict(self.raw.get("attributes") or {})

    @property
    def service(self) -> str:
        return str(self.raw["resource"]["attributes"].get("service.name"))


def read_span_file(path: Path) -> list[FileSpan]:
    if not path.exists():
        return []
    return [FileSpan(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def wait_for_spans(path: Path, until: Callable[[list[FileSpan]], bool], timeout_s: float = 15.0) -> list[FileSpan]:
    """The file's spans once ``until`` holds (a worker writes its task's span just after the job ends)."""
    deadline = time.monotonic() + timeout_s
    while True:
        spans = read_span_file(path)
        if until(spans) or time.monotonic() > deadline:
            return spans
        time.sleep(0.1)
