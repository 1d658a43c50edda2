"""Redis URLs: one server, a Redis Cluster, a Sentinel-watched master; what a bad one says (no sockets:
clients are made, never used)."""

from __future__ import annotations

import pytest
import redis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

from core.errors import ConfigurationError
from core.settings import RedisSettings
from state.endpoint import RedisEndpoint
from state.topology import ClusterUrl, SentinelUrl, ServerUrl, masked, parse_redis_url


@pytest.mark.parametrize(("url", "expected"), [
    ("redis://h:6379/2", ServerUrl("redis://h:6379/2")),
    ("unix:///run/redis.sock", ServerUrl("unix:///run/redis.sock")),
    ("redis+cluster://a:7000,b:7001/", ClusterUrl((("a", 7000), ("b", 7001)))),
    ("redis+cluster://u:p%40ss@a,[::1]:7002", ClusterUrl((("a", 6379), ("::1", 7002)), "u", "p@ss")),
    ("redis+sentinel://s1,s2:26380/main", SentinelUrl((("s1", 26379), ("s2", 26380)), "main")),
    ("redis+sentinel://:pw@s1:26379/main/3?sentinel_password=spw",
     SentinelUrl((("s1", 26379),), "main", 3, None, "pw", "spw")),
])  # fmt: skip
def test_each_form_names_its_topology(url: str, expected: object) -> None:
    assert parse_redis_url(url) == expected


@pytest.mark.parametrize(("url", "says"), [
    ("redis-cluster://a:7000/", "unknown scheme 'redis-cluster'"),
    ("localhost:6379", "unknown scheme '(none)'"),
    ("redis+cluster://a:7000/1", "database 0 only"),
    ("redis+cluster://a:7000,,b:7001/", "an empty host"),
    ("redis+cluster://a:http/", "no valid port"),
    ("redis+sentinel://s1:26379", "name the master"),
    ("redis+sentinel://s1:26379/", "name the master"),
    ("redis+sentinel://s1:26379/main/zero", "the database must be a number"),
    ("redis+sentinel://:secret@s1:26379/main/0?ssl=1", "unknown option(s) ssl"),
])  # fmt: skip
def test_a_bad_url_says_what_is_wrong_and_never_shows_the_password(url: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match=r".*") as raised:
        RedisEndpoint.from_settings(RedisSettings(url=url))  # at once, not at the first call
    assert says in raised.value.message and "secret" not in raised.value.message


def test_passwords_are_masked() -> None:
    assert masked("redis://u:pw@h:6379/0") == "redis://u:***@h:6379/0"
    assert masked("redis+sentinel://s:26379/m?sentinel_password=x") == "redis+sentinel://s:26379/m?sentinel_password=***"
    assert masked("redis+cluster://a:7000,b:7001/") == "redis+cluster://a:7000,b:7001/"


def test_the_endpoint_builds_each_topologys_client() -> None:
    sentinel = RedisEndpoint.from_settings(RedisSettings(url="redis+sentinel://127.0.0.1:1/main/2", socket_timeout_s=1))
    client = sentinel.client()  # connects at the first command
    assert isinstance(client, redis.Redis) and client.connection_pool.connection_kwargs["db"] == 2
    assert client.connection_pool.service_name == "main"  # type: ignore[attr-defined]
    assert isinstance(sentinel.async_client(), redis.asyncio.Redis)
    cluster = RedisEndpoint.from_settings(RedisSettings(url="redis+cluster://127.0.0.1:1/"))
    assert isinstance(cluster.async_client(), AsyncRedisCluster)  # connects at the first command
    assert cluster.target == ClusterUrl((("127.0.0.1", 1),))
    # The synchronous cluster client reads the slot map as it is made: tests/integration/topologies.
