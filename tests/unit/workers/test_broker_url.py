"""The Celery broker on each Redis topology: a Sentinel group through kombu's sentinel transport, a Redis
Cluster refused with the reason (kombu has no cluster transport), no sockets opened."""

from __future__ import annotations

import pytest
from celery import Celery

from core.errors import ConfigurationError
from core.settings import Settings
from state.endpoint import RedisEndpoint
from workers.app import create_celery_app
from workers.topology import resolve_runner

CLUSTER = "redis+cluster://10.0.0.1:7000,10.0.0.2:7000/"
SENTINELS = "redis+sentinel://:pw@10.0.0.5:26379,10.0.0.6:26379/mymaster/1?sentinel_password=spw"


def settings(**sections: object) -> Settings:
    return Settings(_env_file=None, **sections)  # type: ignore[arg-type,call-arg]


def app_for(s: Settings) -> Celery:
    return create_celery_app(s, RedisEndpoint.from_settings(s.redis))


def test_a_sentinel_group_is_a_broker_through_kombus_sentinel_transport() -> None:
    app = app_for(settings(redis={"url": SENTINELS}))  # no broker_url: the Redis of the jobs
    conf = app.conf
    assert conf.broker_url == "sentinel://:pw@10.0.0.5:26379/1;sentinel://:pw@10.0.0.6:26379/1"
    transport = conf.broker_transport_options
    assert transport["master_name"] == "mymaster" and transport["sentinel_kwargs"] == {"password": "spw"}
    assert transport["visibility_timeout"] > conf.task_time_limit  # the usual options stay
    assert conf.result_backend_transport_options["master_name"] == "mymaster"


@pytest.mark.parametrize("sections", [
    {"redis": {"url": CLUSTER}},                                                # the jobs' Redis as the broker
    {"redis": {"url": "redis://r:6379/0"}, "workers": {"broker_url": CLUSTER}},
    {"redis": {"url": "redis://r:6379/0"}, "workers": {"broker_url": "redis://b:6379/0", "result_backend": CLUSTER}},
])  # fmt: skip
def test_a_cluster_is_refused_as_broker_or_result_backend(sections: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError, match="Celery cannot use a cluster"):
        app_for(settings(**sections))


def test_a_cluster_for_the_jobs_with_a_broker_of_its_own_is_fine() -> None:
    app = app_for(settings(redis={"url": CLUSTER}, workers={"broker_url": "redis://broker:6379/0"}))
    assert app.conf.broker_url == "redis://broker:6379/0"


def test_with_only_a_cluster_jobs_run_in_process() -> None:
    qdrant = {"url": "http://qdrant:6333"}
    assert resolve_runner(settings(redis={"url": CLUSTER}, qdrant=qdrant)) == "inprocess"
    assert resolve_runner(settings(redis={"url": CLUSTER}, qdrant=qdrant,
                                   workers={"broker_url": "redis://broker:6379/0"})) == "celery"  # fmt: skip
    assert resolve_runner(settings(redis={"url": SENTINELS}, qdrant=qdrant)) == "celery"
