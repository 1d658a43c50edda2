"""`ragqa worker`: a Celery worker that runs ingestion jobs' documents.

The pool follows the store (see ``workers.topology``): threads on an embedded store, where
this must be the only process using it; prefork with a Qdrant server. A wrong combination
stops here, before any task is taken.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from bootstrap.components import Components
from cli.output import fail
from core.errors import ConfigurationError, RagqaError
from core.settings import Settings
from core.worker_settings import WorkerPool


def worker(
    ctx: typer.Context,
    pool: Annotated[WorkerPool | None, typer.Option(help="threads, solo or prefork (default: by the store).")] = None,
    concurrency: Annotated[int | None, typer.Option("--concurrency", "-c", min=1,
                                                    help="Tasks at once (default: workers.concurrency, 2).")] = None,
    queues: Annotated[str | None, typer.Option(
        "--queues", "-Q", help="Comma-separated queues (default: interactive, then bulk).")] = None,
    loglevel: Annotated[str, typer.Option(help="Celery's log level.")] = "INFO",
) -> None:
    """Run a worker: ingest the documents of queued jobs (`POST /documents`, `ragqa ingest --queue`)."""
    from bootstrap.tracing import install_tracing
    from workers.app import create_celery_app, release_connections
    from workers.context import WorkerContext
    from workers.metrics import serve_worker_metrics
    from workers.tasks import register_tasks
    from workers.topology import check_worker_topology, resolve_pool

    settings: Settings = ctx.obj
    chosen = resolve_pool(settings, pool)
    slots = concurrency or settings.workers.concurrency
    names = [q.strip() for q in queues.split(",") if q.strip()] if queues else settings.workers.queues
    try:
        check_worker_topology(settings, chosen, slots)
        # Both before the pool forks: its children inherit the tracer and the metrics.
        install_tracing(settings.tracing, "ragqa-worker")
        served = serve_worker_metrics(settings.workers, chosen)
    except (RagqaError, OSError) as exc:  # OSError: the metrics port is taken
        fail(exc if isinstance(exc, RagqaError) else ConfigurationError(
            f"the worker's metrics server cannot listen on {settings.workers.metrics_host}:"
            f"{settings.workers.metrics_port} (RAGQA_WORKERS__METRICS_PORT): {exc}"), as_json=False)
    metrics = served.metrics if served is not None else None
    parts = Components(settings, stage_observer=metrics)
    context = WorkerContext(parts, names, in_process_pool=chosen != "prefork", metrics=metrics)
    try:
        app = create_celery_app(settings, parts.redis)
        register_tasks(app, context)
        if chosen != "prefork":
            _ = context.pipeline  # one process runs every task: load now, and fail now if the store is taken
            context.heartbeat(app)  # its leases, and the documents a dead worker left
    except RagqaError as exc:
        context.close()
        if served is not None:
            served.close()
        fail(exc, as_json=False)
    argv = ["worker", f"--pool={chosen}", f"--concurrency={slots}", f"--queues={','.join(names)}",
            f"--loglevel={loglevel}", f"--hostname=ragqa-{os.getpid()}@%h", "--without-gossip", "--without-mingle"]
    try:
        app.worker_main(argv)
    finally:
        release_connections(app)  # before the (maybe embedded) Redis is asked to stop
        context.close()
        if served is not None:
            served.close()


def register(app: typer.Typer) -> None:
    app.command()(worker)
