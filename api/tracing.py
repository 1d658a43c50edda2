"""The API's spans: OpenTelemetry's FastAPI instrumentation opens a server span per request (named by
its route template, `POST /ask`), continuing a caller's W3C ``traceparent``; the answer path's spans
(``answer.cache.lookup``, ``answer``, ``answer.<stage>``, ``answer.cache.save``) and an upload's
publish spans nest under it.

Added only when ``settings.tracing`` is on: off, the app carries no tracing middleware at all.

    instrument_app(app, settings.tracing)
"""

from __future__ import annotations

from fastapi import FastAPI

from bootstrap.tracing import install_tracing
from core.tracing_settings import TracingSettings

# Probes and scrapes: frequent, and nothing to follow in them.
UNTRACED = "/healthz,/readyz,/metrics"


def instrument_app(app: FastAPI, settings: TracingSettings) -> bool:
    """Installs this process's tracer (``bootstrap.tracing``) and the server spans; True when on."""
    if not install_tracing(settings, "ragqa-api"):
        return False
    # Imported here: the instrumentation takes ~0.2 s to import, which a server that does not trace never pays.
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # The ASGI messages (receive, send) as spans of their own would double a streamed answer's spans.
    FastAPIInstrumentor.instrument_app(app, excluded_urls=UNTRACED, exclude_spans=["receive", "send"])
    return True
