"""The broker connection when Redis goes away with messages in hand: the teardown Celery's consumer
runs on a lost connection (``collect``, then ``close``) must end in errors it retries, never in the
AttributeError that ended the worker (``workers.broker``)."""

from __future__ import annotations

import contextlib
import socket

import pytest
from kombu import Exchange, Queue

from state.endpoint import RedisEndpoint
from tests.support.services import RedisServer
from tests.support.workers import WorkerEnv
from workers.app import create_celery_app
from workers.broker import BrokerConnection


def test_a_connection_lost_with_messages_in_hand_closes_and_acks_as_a_lost_connection(
    worker_env: WorkerEnv, own_redis: RedisServer
) -> None:
    settings = WorkerEnv(worker_env.root, own_redis.url, worker_env.prefix).settings()
    app = create_celery_app(settings, RedisEndpoint.from_settings(settings.redis))
    connection = app.connection_for_read()
    assert isinstance(connection, BrokerConnection)
    names = [f"{worker_env.prefix}a", f"{worker_env.prefix}b"]
    queues = [Queue(name, Exchange(name), routing_key=name) for name in names]
    with connection.Producer() as producer:
        for queue in queues * 2:
            producer.publish({"n": 1}, exchange=queue.exchange, routing_key=queue.routing_key, declare=[queue])
    # As in a worker: one channel holds a message a task is running and waits on BRPOP for the next;
    # another holds unacknowledged messages too, so closing it needs Redis.
    first = connection.default_channel
    held = first.basic_get(queues[0].name)
    assert held is not None
    second = connection.channel()
    for channel, queue in ((first, queues[0]), (second, queues[1])):
        connection.Consumer(queue, channel=channel, callbacks=[lambda body, message: None]).consume()  # no ack
    for _ in range(3):
        with contextlib.suppress(socket.timeout, TimeoutError):
            connection.drain_events(timeout=0.2)

    own_redis.stop()
    # Celery's consumer on a lost connection: kombu's collect stops at the first channel that cannot
    # close and detaches the transport anyway, leaving `first` open; close() then closes it.
    with contextlib.suppress(Exception):
        connection.collect(socket_timeout=1)
    connection.close()  # with kombu's channel: AttributeError 'NoneType' object has no attribute 'hostname'

    with pytest.raises(connection.connection_errors):  # what Celery logs as "Couldn't ack" and goes on
        held.ack()
    for channel in (first, second):  # what collect left open: its restore at exit would fail noisily
        with contextlib.suppress(*connection.connection_errors):
            channel.close()
