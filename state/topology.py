"""Which Redis a URL names: one server, a Redis Cluster, or a master that Sentinel watches; and the
redis-py client for each.

==============================================================  ==========================================
URL                                                             client
==============================================================  ==========================================
``redis://[user:pass@]host:port/db``, ``rediss://``, ``unix://``  ``redis.Redis.from_url`` (as before)
``redis+cluster://[user:pass@]host:port[,host:port...]/``       ``redis.cluster.RedisCluster``: the hosts
                                                                are where it starts; it finds the rest
``redis+sentinel://[user:pass@]host:port[,host:port...]/``      ``Sentinel(hosts).master_for(master)``:
``<master>[/<db>][?sentinel_password=...]``                     the sentinels say where the master is, and
                                                                the client follows a failover
==============================================================  ==========================================

A port left out is 6379 (cluster) or 26379 (sentinel); ``user:pass`` is the data nodes' login, and
``sentinel_password`` the sentinels' own, when they require one. A cluster has database 0 only.
Anything else is a ``ConfigurationError`` that says what is wrong, with the password masked.

Every multi-key script and transaction of ragqa keeps its keys in one hash slot (``state.keys``), so
a cluster runs the same code as a single server.

    >>> target = parse_redis_url("redis+sentinel://10.0.0.5,10.0.0.6:26380/mymaster/2")
    >>> target.sentinels, target.master, target.db
    ((('10.0.0.5', 26379), ('10.0.0.6', 26380)), 'mymaster', 2)
    >>> parse_redis_url("redis+cluster://:s3cret@10.0.0.7:7000/").nodes
    (('10.0.0.7', 7000),)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisClusterException
from redis.sentinel import Sentinel

from core.errors import ConfigurationError

# What a caller may be handed: the stores take either a server's client or a cluster's.
SyncRedis = redis.Redis | RedisCluster
AsyncRedis = aioredis.Redis | AsyncRedisCluster
# What a Redis call may raise when the store fails: a cluster client's own errors (no node reachable, a
# slot no node serves) are not ``RedisError``s.
REDIS_ERRORS: tuple[type[Exception], ...] = (redis.RedisError, RedisClusterException)
REDIS_OR_SOCKET_ERRORS: tuple[type[Exception], ...] = (*REDIS_ERRORS, OSError)

CLUSTER_SCHEME = "redis+cluster"
SENTINEL_SCHEME = "redis+sentinel"
PLAIN_SCHEMES = ("redis", "rediss", "unix")
FORMS = ("redis://host:6379/0, rediss://..., unix:///path/redis.sock, "
         "redis+cluster://host:port[,host:port...]/, redis+sentinel://host:port[,host:port...]/<master>/<db>")

Address = tuple[str, int]


@dataclass(frozen=True, slots=True)
class ServerUrl:
    """One Redis server: the URL as redis-py reads it."""

    url: str

    def client(self, **options: Any) -> redis.Redis:
        return redis.Redis.from_url(self.url, **options)

    def async_client(self, **options: Any) -> aioredis.Redis:
        return aioredis.Redis.from_url(self.url, **options)


@dataclass(frozen=True, slots=True)
class ClusterUrl:
    """A Redis Cluster, found from any of ``nodes``."""

    nodes: tuple[Address, ...]
    username: str | None = None
    password: str | None = None

    def _login(self) -> dict[str, Any]:
        return {"username": self.username, "password": self.password}

    def client(self, **options: Any) -> RedisCluster:
        return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in self.nodes], **self._login(), **options)

    def async_client(self, **options: Any) -> AsyncRedisCluster:
        return AsyncRedisCluster(startup_nodes=[AsyncClusterNode(h, p) for h, p in self.nodes], **self._login(),
                                 **options)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SentinelUrl:
    """The master named ``master``, wherever ``sentinels`` say it is now."""

    sentinels: tuple[Address, ...]
    master: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None

    def _sentinel_options(self, options: dict[str, Any]) -> dict[str, Any]:
        kept = {k: v for k, v in options.items() if k in ("socket_timeout", "socket_connect_timeout")}
        return {**kept, "password": self.sentinel_password} if self.sentinel_password else kept

    def _master_options(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"db": self.db, "username": self.username, "password": self.password, **options}

    def client(self, **options: Any) -> redis.Redis:
        sentinel = Sentinel(list(self.sentinels), sentinel_kwargs=self._sentinel_options(options))
        return sentinel.master_for(self.master, **self._master_options(options))

    def async_client(self, **options: Any) -> aioredis.Redis:
        sentinel = AsyncSentinel(list(self.sentinels), sentinel_kwargs=self._sentinel_options(options))
        return sentinel.master_for(self.master, **self._master_options(options))


RedisUrl = ServerUrl | ClusterUrl | SentinelUrl


def parse_redis_url(url: str) -> RedisUrl:
    """What ``url`` names (see the module docstring); ``ConfigurationError`` saying what is wrong."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme in PLAIN_SCHEMES:
        return ServerUrl(url)
    if scheme not in (CLUSTER_SCHEME, SENTINEL_SCHEME):
        raise ConfigurationError(f"Redis URL {masked(url)!r}: unknown scheme {scheme or '(none)'!r}; "
                                 f"use one of: {FORMS}")
    parts = urlsplit(url)
    login, _, hosts = parts.netloc.rpartition("@")
    username, _, password = login.partition(":")
    default_port = 6379 if scheme == CLUSTER_SCHEME else 26379
    addresses = _addresses(url, hosts, default_port)
    path = [unquote(p) for p in parts.path.split("/") if p]
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    credentials = {"username": unquote(username) or None, "password": unquote(password) or None}
    if scheme == CLUSTER_SCHEME:
        if path not in ([], ["0"]):
            raise ConfigurationError(f"Redis URL {masked(url)!r}: a Redis Cluster has database 0 only; "
                                     f"end the URL with the hosts (redis+cluster://host:port,host:port/)")
        _no_options(url, query, allowed=())
        return ClusterUrl(addresses, **credentials)
    if not path or len(path) > 2:
        raise ConfigurationError(f"Redis URL {masked(url)!r}: name the master the sentinels watch, and optionally "
                                 "the database, after the hosts: redis+sentinel://host:26379/mymaster/0")
    db = path[1] if len(path) == 2 else "0"
    if not db.isdigit():
        raise ConfigurationError(f"Redis URL {masked(url)!r}: the database must be a number, not {db!r}")
    _no_options(url, query, allowed=("sentinel_password",))
    return SentinelUrl(addresses, path[0], int(db), sentinel_password=query.get("sentinel_password") or None,
                       **credentials)  # fmt: skip


def _addresses(url: str, hosts: str, default_port: int) -> tuple[Address, ...]:
    found = []
    for item in hosts.split(","):
        item = item.strip()
        if item.startswith("["):  # an IPv6 address: [::1]:7000
            host, _, rest = item[1:].partition("]")
            port = rest.removeprefix(":")
        else:
            host, _, port = item.partition(":")
        if not host:
            raise ConfigurationError(f"Redis URL {masked(url)!r}: an empty host in {hosts!r}; "
                                     "list host:port pairs separated by commas")
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            raise ConfigurationError(f"Redis URL {masked(url)!r}: {item!r} has no valid port")
        found.append((host, int(port) if port else default_port))
    return tuple(found)


def _no_options(url: str, query: dict[str, str], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(query) - set(allowed))
    if unknown:
        accepted = f" (accepted: {', '.join(allowed)})" if allowed else ""
        raise ConfigurationError(f"Redis URL {masked(url)!r}: unknown option(s) {', '.join(unknown)}{accepted}")


def masked(url: str) -> str:
    """The URL with any password replaced by ``***`` (for messages and logs).

        >>> masked("redis+sentinel://:pw@h1,h2/m/0?sentinel_password=x")
        'redis+sentinel://:***@h1,h2/m/0?sentinel_password=***'
    """
    return _QUERY_PASSWORD.sub(r"\1***", _LOGIN_PASSWORD.sub(r"\1***@", url))


_LOGIN_PASSWORD = re.compile(r"^([\w+.-]+://[^:@/]*:)[^@/]*@")
_QUERY_PASSWORD = re.compile(r"(password=)[^&]*")
