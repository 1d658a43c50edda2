"""Spans over the stages the code already has: OpenTelemetry's API, a no-op until a composition root
installs a tracer provider (``bootstrap.tracing``, from ``settings.tracing``).

Off (no provider installed), every helper here returns after one check: no span object, no context
change, nothing injected into a message (the module docstring of ``bootstrap.tracing`` gives the cost).
The layers use these helpers, never the SDK; the W3C trace context crosses process boundaries (a
Celery message) as plain headers.

    with span("ingest.parse", {"ragqa.doc_id": "a.txt"}):
        parsed = parse(...)
    headers = trace_headers()                 # {"traceparent": "00-..."} while a span is current
    with span("ingest.document", context=context_from(headers)):
        ...                                   # the same trace, in another process
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import lru_cache
from typing import TypeAlias

from opentelemetry import propagate, trace
from opentelemetry.context import Context, get_current
from opentelemetry.trace import INVALID_SPAN, ProxyTracerProvider, Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

__all__ = [
    "AttributeValue",
    "Attributes",
    "Context",
    "Span",
    "SpanKind",
    "context_from",
    "current_context",
    "failed",
    "record_span",
    "span",
    "start_span",
    "trace_headers",
    "tracing_on",
    "use_span",
]
TRACER_NAME = "ragqa"
Attributes: TypeAlias = Mapping[str, AttributeValue]
_OFF = nullcontext(INVALID_SPAN)  # what a span is while tracing is off: reusable, it holds no state


def tracing_on() -> bool:
    """Whether a tracer provider is installed in this process (``bootstrap.tracing.install_tracing``)."""
    return not isinstance(trace.get_tracer_provider(), ProxyTracerProvider)


@lru_cache(maxsize=4)
def _tracer(provider: trace.TracerProvider) -> trace.Tracer:
    return provider.get_tracer(TRACER_NAME)


def tracer() -> trace.Tracer:
    return _tracer(trace.get_tracer_provider())


def span(name: str, attributes: Attributes | None = None, *, context: Context | None = None,
         kind: SpanKind = SpanKind.INTERNAL) -> AbstractContextManager[Span]:
    """A span, current while the block runs (its exception recorded). Not across a ``yield``: a
    generator's block may resume in another thread's context; use ``start_span`` there."""
    if not tracing_on():
        return _OFF
    return tracer().start_as_current_span(name, context=context, kind=kind, attributes=attributes)


def start_span(name: str, attributes: Attributes | None = None, *, context: Context | None = None) -> Span:
    """A span that is not made current (the caller ends it): safe to hold across a generator's yields."""
    if not tracing_on():
        return INVALID_SPAN
    return tracer().start_span(name, context=context, attributes=attributes)


@contextmanager
def use_span(current: Span) -> Iterator[Span]:
    """``current`` made the current span for the block (it is not ended here)."""
    if not current.is_recording():
        yield current
        return
    # Whoever started it records its failure (``failed``), once.
    with trace.use_span(current, end_on_exit=False, record_exception=False, set_status_on_exception=False):
        yield current


def failed(target: Span, error: BaseException) -> None:
    """Marks ``target`` as failed by ``error`` (a generator's early close is no failure)."""
    if target.is_recording() and isinstance(error, Exception):
        target.record_exception(error)
        target.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))


def record_span(name: str, started: float, context: Context | None, error: BaseException | None = None,
                attributes: Attributes | None = None) -> None:
    """A finished span for a stage timed from ``started`` (``time.perf_counter()``) until now: a stage
    timer's ``record`` becomes a span without a context manager around the stage."""
    if not tracing_on():
        return
    elapsed_ns = int((time.perf_counter() - started) * 1e9)
    end_ns = time.time_ns()
    done = tracer().start_span(name, context=context, attributes=attributes, start_time=end_ns - elapsed_ns)
    if error is not None:
        failed(done, error)
    done.end(end_time=end_ns)


def current_context() -> Context | None:
    """The current context, to parent spans started later elsewhere; None while tracing is off."""
    return get_current() if tracing_on() else None


def trace_headers() -> dict[str, str]:
    """The current span's W3C trace context (``traceparent``, ``tracestate``) as message headers."""
    carrier: dict[str, str] = {}
    if tracing_on():
        propagate.inject(carrier)
    return carrier


def context_from(headers: Mapping[str, object]) -> Context | None:
    """The trace context carried by ``headers`` (``trace_headers``' keys); None when they carry none."""
    if not tracing_on():
        return None
    carrier = {key: value for key in propagate.get_global_textmap().fields
               if isinstance(value := headers.get(key), str)}
    return propagate.extract(carrier) if carrier else None
