"""Redis as production runs it beyond one server, started for these tests on loopback ports: a
three-master Redis Cluster and a Sentinel group (``tests.support.redis_topologies``), once per session.

``redis_target`` runs a test once per topology (the shared server too, where the test asks for it),
each time under a key prefix of its own that is deleted afterwards (a SCAN of every node of a cluster).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from core.settings import RedisSettings
from state.endpoint import RedisEndpoint
from state.topology import SyncRedis
from tests.support.environment import require
from tests.support.redis_topologies import ClusterTopology, SentinelTopology, redis_cluster, sentinel_group
from tests.support.services import SHARED_REDIS, redis_reachable


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterTopology]:
    with redis_cluster(tmp_path_factory.mktemp("redis-cluster")) as topology:
        yield topology


@pytest.fixture(scope="session")
def sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelTopology]:
    with sentinel_group(tmp_path_factory.mktemp("redis-sentinel")) as topology:
        yield topology


@dataclass(frozen=True)
class RedisTarget:
    """One topology as ragqa is pointed at it: its URL, an endpoint, and a key prefix of this test's own."""

    name: str
    url: str
    prefix: str

    @property
    def endpoint(self) -> RedisEndpoint:
        return RedisEndpoint.from_settings(self.settings)

    @property
    def settings(self) -> RedisSettings:
        return RedisSettings(url=self.url, key_prefix=self.prefix, socket_timeout_s=2, connect_timeout_s=2)


def url_of(name: str, request: pytest.FixtureRequest) -> str:
    if name == "server":
        require(redis_reachable(SHARED_REDIS), f"a Redis server at {SHARED_REDIS}")
        return SHARED_REDIS
    topology: ClusterTopology | SentinelTopology = request.getfixturevalue(name)
    return topology.url


def delete_prefix(client: SyncRedis, prefix: str) -> int:
    """Our keys only, on every node (a cluster client's SCAN visits each master)."""
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for key in keys:
        client.delete(key)
    return len(keys)


@pytest.fixture(params=["server", "cluster", "sentinel"])
def redis_target(request: pytest.FixtureRequest) -> Iterator[RedisTarget]:
    target = RedisTarget(request.param, url_of(request.param, request), f"ragqa-topo-{uuid.uuid4().hex[:10]}:")
    yield target
    client = target.endpoint.client()
    try:
        delete_prefix(client, target.prefix)
    finally:
        client.close()
