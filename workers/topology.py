"""Which process may open the store: the start-up checks that turn a wrong topology into a
clear error instead of a lock exception minutes later.

An embedded store (Qdrant Edge or qdrant-client's local mode) admits one process. So:

- ``ragqa worker`` on an embedded store runs a threads or solo pool, in one process, and must
  be the only process using that store (no ``ragqa serve`` on it at the same time);
- ``ragqa serve`` on an embedded store runs its jobs in-process (``workers.runner=inprocess``);
- with a Qdrant server (``qdrant.url``), any number of prefork workers and API replicas.

    >>> resolve_pool(Settings())
    'threads'
"""

from __future__ import annotations

from typing import Literal

from core.errors import ConfigurationError
from core.settings import Settings
from core.worker_settings import WorkerPool
from state.topology import CLUSTER_SCHEME

Runner = Literal["inprocess", "celery"]


def resolve_pool(settings: Settings, pool: WorkerPool | None = None) -> WorkerPool:
    """The pool asked for, else the one the store allows: threads when embedded, prefork with a server."""
    chosen = pool or settings.workers.pool
    if chosen is not None:
        return chosen
    return "threads" if settings.qdrant.url is None else "prefork"


def check_worker_topology(settings: Settings, pool: WorkerPool, concurrency: int) -> None:
    if settings.qdrant.url is None and pool == "prefork" and concurrency > 1:
        raise ConfigurationError(
            f"the embedded store at {settings.qdrant.path} admits one process, but a prefork pool of "
            f"{concurrency} runs {concurrency} processes: use --pool threads (or solo), or point "
            "RAGQA_QDRANT__URL at a Qdrant server to run prefork workers"
        )


def resolve_runner(settings: Settings) -> Runner:
    """Where the API runs ingestion jobs (see ``WorkerSettings.runner``)."""
    w = settings.workers
    if w.runner == "auto":
        # A Redis Cluster is no broker (``workers.app``): with only a cluster, jobs run in-process.
        redis_broker = settings.redis.url is not None and not settings.redis.url.lower().startswith(CLUSTER_SCHEME)
        has_broker = w.broker_url is not None or redis_broker
        return "celery" if settings.qdrant.url is not None and has_broker else "inprocess"
    if w.runner == "celery" and settings.qdrant.url is None:
        raise ConfigurationError(
            f"workers.runner=celery needs a Qdrant server: the embedded store at {settings.qdrant.path} "
            "admits one process, and the API already holds it. Set RAGQA_QDRANT__URL, or use "
            "RAGQA_WORKERS__RUNNER=inprocess (ingestion in a thread of `ragqa serve`)"
        )
    return w.runner
