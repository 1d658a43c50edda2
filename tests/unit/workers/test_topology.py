"""Which pools and runners a store allows, decided before anything opens it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.errors import ConfigurationError
from core.settings import Settings
from workers.app import broker_url, create_celery_app
from workers.topology import check_worker_topology, resolve_pool, resolve_runner

SERVER = {"url": "http://qdrant:6333"}


def test_the_pool_follows_the_store() -> None:
    assert resolve_pool(Settings(_env_file=None)) == "threads"  # type: ignore[call-arg]
    assert resolve_pool(Settings(_env_file=None, qdrant=SERVER)) == "prefork"  # type: ignore[call-arg]
    assert resolve_pool(Settings(_env_file=None), "solo") == "solo"  # type: ignore[call-arg]


def test_prefork_on_an_embedded_store_is_refused_with_what_to_do() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="RAGQA_QDRANT__URL"):
        check_worker_topology(settings, "prefork", 2)
    check_worker_topology(settings, "threads", 4)
    check_worker_topology(settings, "prefork", 1)
    check_worker_topology(Settings(_env_file=None, qdrant=SERVER), "prefork", 8)  # type: ignore[call-arg]


def test_the_api_runs_jobs_in_process_unless_a_server_and_a_broker_exist() -> None:
    assert resolve_runner(Settings(_env_file=None)) == "inprocess"  # type: ignore[call-arg]
    served = Settings(_env_file=None, qdrant=SERVER, redis={"url": "redis://r:6379/0"})  # type: ignore[call-arg]
    assert resolve_runner(served) == "celery"
    with pytest.raises(ConfigurationError, match="admits one process"):
        resolve_runner(Settings(_env_file=None, workers={"runner": "celery"}))  # type: ignore[call-arg]


def test_the_visibility_timeout_must_outlast_the_longest_task() -> None:
    with pytest.raises(ValidationError, match="must exceed"):
        Settings(_env_file=None, workers={"visibility_timeout_s": 60, "task_time_limit_s": 60})  # type: ignore[call-arg]


def test_the_celery_app_is_configured_for_at_least_once_delivery() -> None:
    settings = Settings(_env_file=None, redis={"url": "redis://r:6379/0"},  # type: ignore[call-arg]
                        workers={"broker_url": "redis://broker:6379/1", "unacked_restore_interval_s": 2})

    class Endpoint:
        url = "unix:///tmp/redis.sock"

    app = create_celery_app(settings, Endpoint())  # type: ignore[arg-type]
    conf = app.conf
    assert conf.broker_url == "redis://broker:6379/1"
    assert conf.task_acks_late and conf.task_reject_on_worker_lost and conf.worker_prefetch_multiplier == 1
    options = conf.broker_transport_options
    assert options["visibility_timeout"] > conf.task_time_limit
    assert options["unacked_restore_interval"] == 2 and options["unacked_restore_throttle"] == 1
    embedded = Settings(_env_file=None)  # type: ignore[call-arg]
    assert broker_url(embedded, Endpoint()) == "redis+socket:///tmp/redis.sock"  # type: ignore[arg-type]
