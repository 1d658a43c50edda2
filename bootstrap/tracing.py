"""Installs OpenTelemetry's SDK in a process from ``settings.tracing``: the composition roots call it
(``api.tracing`` for `ragqa serve`, `ragqa worker`), the layers only use ``core.tracing``.

- ``off`` (the default) installs nothing: ``core.tracing``'s helpers then cost one check each (about
  1 µs on a busy 2-core machine, where OpenTelemetry's own no-op tracer costs 6 to 9 µs a span), and
  the FastAPI instrumentation is not added at all: an answer's dozen span sites cost ~15 µs beside its
  tens of milliseconds.
- ``otlp`` batches spans to a collector over HTTP (a background thread; a failed export is logged by the
  SDK and dropped, never raised into a request). ``console`` and ``file`` write each span as it ends,
  so a worker's forked child, which leaves with ``os._exit``, loses none.
- One provider per process, as OpenTelemetry's global allows: a second call (a second app in a test
  process, or a test that installed its own in-memory provider first) keeps the one installed.

    install_tracing(settings.tracing, "ragqa-worker")   # True when spans are now exported
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from core.tracing import tracing_on
from core.tracing_settings import TracingSettings


def install_tracing(settings: TracingSettings, service: str) -> bool:
    """Installs this process's tracer provider unless tracing is off; True when spans are exported."""
    if not settings.enabled:
        return False
    if tracing_on():
        return True
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: settings.service_name or service}),
                              sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)))
    provider.add_span_processor(span_processor(settings))
    trace.set_tracer_provider(provider)
    return True


def span_processor(settings: TracingSettings) -> SpanProcessor:
    if settings.exporter == "otlp":
        # Imported here: protobuf and the HTTP client load only where spans go to a collector.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint))
    if settings.exporter == "file":
        return SimpleSpanProcessor(JsonLinesSpanExporter(settings.file_path))
    return SimpleSpanProcessor(ConsoleSpanExporter())


def flush_tracing(timeout_ms: int = 5000) -> None:
    """Exports what is batched (a worker's child calls it before it leaves)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush(timeout_ms)


class JsonLinesSpanExporter(SpanExporter):
    """Appends each span as one JSON line (the SDK's own ``to_json``) to ``path``.

    Each export is one ``write`` on a descriptor opened for appending, so the processes of a host
    (an API, a worker and its forked children) can share one file without interleaving lines.

    Example::

        SimpleSpanProcessor(JsonLinesSpanExporter(Path("data/traces.jsonl")))
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        data = "".join(s.to_json(indent=None) + "\n" for s in spans).encode()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError:
            return SpanExportResult.FAILURE
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        except OSError:
            return SpanExportResult.FAILURE
        finally:
            os.close(fd)
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
