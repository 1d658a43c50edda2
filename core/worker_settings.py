"""Settings of whoever runs ingestion jobs (Celery workers over Redis; the retry, poison and lease limits
also bind `ragqa serve`'s in-process runner): the ``workers`` section of ``Settings``.

Kept beside ``core.settings`` so that file stays one screen per concern; ``Settings.workers``
is the only way in::

    >>> from core.settings import Settings
    >>> Settings(workers={"pool": "threads"}).workers.pool
    'threads'
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from core.section import Section

WorkerPool = Literal["prefork", "threads", "solo"]


class WorkerSettings(Section):
    runner: Literal["auto", "inprocess", "celery"] = Field(
        default="auto",
        description="Where the API runs ingestion jobs. `celery`: queued for `ragqa worker` processes "
        "(needs a Qdrant server, `qdrant.url`, since an embedded store admits one process). `inprocess`: "
        "a thread of the API process. `auto`: celery when `qdrant.url` and a broker are configured, "
        "otherwise in-process.",
    )
    broker_url: str | None = Field(
        default=None,
        description="Celery broker URL: a Redis server, or a master behind Sentinel as "
        "redis+sentinel://host:26379[,host:port...]/<master>/<db> (never a Redis Cluster: Celery has no "
        "cluster transport). Unset: `redis.url` (or the embedded Redis). In production use a Redis that "
        "never evicts (`maxmemory-policy noeviction`), apart from the answer cache.",
    )
    broker_key_prefix: str = Field(
        default="",
        description="Prefix of every broker key (queues, unacked tasks), for a broker Redis shared with "
        "other applications.",
    )
    result_backend: str | None = Field(
        default=None, description="Celery result backend URL. Unset: the broker URL."
    )
    pool: WorkerPool | None = Field(
        default=None,
        description="Worker pool of `ragqa worker`. Unset: `threads` with an embedded store (one process "
        "may open it), `prefork` with a Qdrant server.",
    )
    concurrency: int = Field(default=2, ge=1, le=256, description="Tasks a worker runs at once.")
    queues: list[str] = Field(
        default_factory=lambda: ["ragqa.interactive", "ragqa.bulk"],
        description="Queues `ragqa worker` consumes, in order. Run a worker on the interactive queue "
        "alone to keep uploads fast during a large import.",
    )
    interactive_queue: str = Field(default="ragqa.interactive", description="Queue of API uploads.")
    bulk_queue: str = Field(default="ragqa.bulk", description="Queue of `ragqa ingest --queue` imports.")
    visibility_timeout_s: int = Field(
        default=900,
        ge=5,
        description="Seconds before the broker hands an unacknowledged task to another worker (the worker "
        "that took it is presumed dead). Must exceed `task_time_limit_s`, or long tasks run twice.",
    )
    unacked_restore_interval_s: int = Field(
        default=5,
        ge=1,
        description="How often workers sweep for tasks whose visibility timeout has passed (kombu's "
        "default, ~100 s, delays redelivery after a crashed worker by that much).",
    )
    task_time_limit_s: int = Field(
        default=600, ge=1, description="Hard limit on one document's task; the worker process is replaced."
    )
    max_retries: int = Field(
        default=5, ge=0, description="Retries of a document after a transient error (index or Redis unavailable)."
    )
    retry_backoff_s: int = Field(
        default=2, ge=1, description="First retry delay in seconds; doubles each time, with full jitter."
    )
    retry_backoff_max_s: int = Field(default=120, ge=1, description="Longest retry delay, in seconds.")
    max_deliveries: int = Field(
        default=3,
        ge=1,
        description="Times a document may be handed to a worker before it counts as poison (it keeps "
        "killing its worker) and fails instead of looping.",
    )
    document_lease_s: float = Field(
        default=30.0,
        ge=1.0,
        description="A worker holds a lease on each document it runs, renewed three times per lease; a "
        "document whose worker died is handed to another once its lease lapses (not after the "
        "visibility timeout).",
    )
    inprocess_lease_s: float = Field(
        default=30.0,
        ge=1.0,
        description="`ragqa serve` without workers runs jobs itself and holds a lease this long, renewed "
        "three times per lease; a job whose server died resumes on a live server once the lease lapses.",
    )
    store_retry_s: float = Field(
        default=60.0,
        ge=0,
        description="How long a task keeps retrying its job-progress writes while Redis is unreachable.",
    )
    metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Port on which `ragqa worker` serves Prometheus metrics (documents by status, failures by "
        "code, chunks written, parse/chunk/embed/write durations) at /metrics, summed over a prefork pool's "
        "processes. 0: no metrics server.",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address the worker's metrics server binds to (0.0.0.0 in a container whose port is "
        "scraped from outside).",
    )

    @model_validator(mode="after")
    def _visibility_exceeds_task_limit(self) -> WorkerSettings:
        if self.visibility_timeout_s <= self.task_time_limit_s:
            raise ValueError(
                f"workers.visibility_timeout_s ({self.visibility_timeout_s}) must exceed "
                f"workers.task_time_limit_s ({self.task_time_limit_s}), or a long task is handed to a "
                "second worker while the first still runs it"
            )
        return self
