"""The broker connection of the Celery app: kombu's, with a Redis channel that survives a broker restart.

When the Redis broker goes away mid-job, Celery's consumer tears its connection down and
reconnects. kombu's teardown (``Connection.collect``) stops closing channels at the first one
whose close fails (Redis is down, so one does) and then detaches the transport from the
connection all the same; the channels it skipped, among them the one that holds the messages
being worked on, stay open with no connection parameters behind them. The next thing that
touches one (``Connection.close`` closing it and restoring its unacknowledged messages, or the
late ack of a task that was running) builds a fresh Redis pool for it and fails with
``AttributeError: 'NoneType' object has no attribute 'hostname'``. Celery retries connection
errors only, so that AttributeError ended the consumer ("Unrecoverable error") and the worker
with it, in the middle of a job.

``RedisBrokerChannel`` makes that state what it is, a lost connection: a channel whose
connection was closed raises a Redis ``ConnectionError`` instead of building a pool, and every
caller on those paths already handles one (the close goes on, the consumer reconnects, the ack
is logged as failed). Its messages stay in the broker's unacknowledged set, and the
visibility-timeout sweep hands them out again; the document tasks are idempotent
(``jobs.document``).

Example::

    app = Celery("ragqa", broker="redis://127.0.0.1:6379/0", amqp=BrokerAMQP)
    with app.connection_for_read() as connection:  # a BrokerConnection over RedisBrokerTransport
        connection.default_channel
"""

from __future__ import annotations

from typing import Any

from celery.app.amqp import AMQP
from kombu import Connection
from kombu.connection import ConnectionPool, PooledConnection
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class RedisBrokerChannel(kombu_redis.Channel):
    """kombu's Redis channel, refusing to open a new pool once its connection is closed."""

    def _get_pool(self, asynchronous: bool = False) -> Any:
        transport = self.connection  # None once the transport dropped this channel
        if transport is None or transport.client is None:  # client: None once the connection detached it
            # A connection error, which kombu and Celery handle on every path that gets here;
            # a new pool would be built from nothing, and hold sockets no one closes.
            raise RedisConnectionError("this broker channel's connection is closed (the broker went away)")
        return super()._get_pool(asynchronous)


class RedisBrokerTransport(kombu_redis.Transport):
    """kombu's Redis transport, with ``RedisBrokerChannel`` (Sentinel's transport is left as kombu has it)."""

    Channel = RedisBrokerChannel


def with_broker_channels(transport_cls: Any) -> Any:
    """The transport a broker connection runs: kombu's Redis transport becomes ``RedisBrokerTransport``."""
    return RedisBrokerTransport if transport_cls is kombu_redis.Transport else transport_cls


class BrokerConnection(Connection):
    """A kombu connection that runs the Redis transport with ``RedisBrokerChannel``, as do the
    connections of its pool (the app's producers).

    Chosen here rather than by URL, so ``redis://`` and ``redis+socket://`` both get it and the
    connection still reads ``redis://...`` in logs.
    """

    def get_transport_cls(self) -> Any:
        return with_broker_channels(super().get_transport_cls())

    def Pool(self, limit: int | None = None, **kwargs: Any) -> ConnectionPool:  # noqa: N802  (kombu's name)
        return BrokerConnectionPool(self, limit=limit, **kwargs)


class PooledBrokerConnection(PooledConnection):
    """A connection of the app's pool (publishing), with the same transport as ``BrokerConnection``."""

    def get_transport_cls(self) -> Any:
        return with_broker_channels(super().get_transport_cls())


class BrokerConnectionPool(ConnectionPool):
    """kombu's pool, filled with ``PooledBrokerConnection``s."""

    def new(self) -> PooledBrokerConnection:
        return PooledBrokerConnection(self, **dict(self.connection._info(resolve=False)))


class BrokerAMQP(AMQP):
    """Celery's messaging layer, making every broker connection of the app a ``BrokerConnection``."""

    Connection = BrokerConnection
    BrokerConnection = BrokerConnection
