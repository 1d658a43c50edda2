"""Settings of OpenTelemetry tracing (``tracing.*``): off by default, an exporter when on.

Kept beside ``core.settings`` so that file stays one screen per concern; ``Settings.tracing`` is
the only way in::

    >>> from core.settings import Settings
    >>> Settings(tracing={"exporter": "otlp"}).tracing.enabled
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from core.section import Section

Exporter = Literal["off", "otlp", "console", "file"]


class TracingSettings(Section):
    exporter: Exporter = Field(
        default="off",
        description="Where the spans of the API (route, cache, guards, retrieval, evidence, generation) and "
        "of the workers (a document's parse, chunk, embed and write, joined to the upload that queued it) "
        "go. `off`: no tracer is installed and a span costs one check. `otlp`: OTLP over HTTP to "
        "`otlp_endpoint` (an OpenTelemetry Collector, Jaeger, Tempo). `console`: JSON on standard output. "
        "`file`: one JSON object per line appended to `file_path`.",
    )
    otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP traces URL, e.g. http://otel-collector:4318/v1/traces. Unset: the exporter's "
        "own default (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT, else "
        "http://localhost:4318/v1/traces); OTEL_EXPORTER_OTLP_HEADERS adds headers such as a token.",
    )
    file_path: Path = Field(
        default=Path("./data/traces.jsonl"),
        description="The `file` exporter's JSON-lines file (appended to; every process of a host may share it).",
    )
    service_name: str | None = Field(
        default=None,
        description="`service.name` of the spans. Unset: `ragqa-api` for `ragqa serve`, `ragqa-worker` for "
        "`ragqa worker`.",
    )
    sample_ratio: float = Field(
        default=1.0, ge=0, le=1,
        description="Share of traces kept, decided where a trace starts (an upload or a question); a worker "
        "follows the decision of the API that queued its document.",
    )

    @property
    def enabled(self) -> bool:
        return self.exporter != "off"
