"""What the Redis broker holds, as the heartbeat needs it to find messages a killed worker lost.

Kombu's Redis transport keeps a queue as a list and a delivered, unacknowledged message in a hash
(``unacked``) until it is acknowledged. Its pop and its write to that hash are two steps, so a
worker killed between them loses the message for good (kombu issue #305 and its kin): the job
store then shows the document queued, while no message for it exists. ``broker_view`` reads the
two things that tell such a document apart, cheaply: which of the worker's queues are empty, and
which documents the unacknowledged messages carry. Other brokers (RabbitMQ) hand a dead
consumer's messages back themselves: there it answers None and nothing is looked for.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from celery import Celery

from workers.app import INGEST_DOCUMENT

BrokerView = tuple[set[str], set[tuple[str, str]]]


def broker_view(app: Celery, queues: list[str]) -> BrokerView | None:
    """``(empty queues, (job_id, doc_id) of every unacknowledged ingestion message)``; None when the
    broker is not Redis. The unacknowledged hash is read only when a queue is empty."""
    with app.connection_for_read() as connection:
        channel: Any = connection.default_channel
        if not hasattr(channel, "unacked_key"):
            return None
        empty = {queue for queue in queues if channel._size(queue) == 0}
        if not empty:
            return empty, set()
        held = channel.client.hvals(channel.unacked_key)
    return empty, {found for raw in held if (found := document_of(raw)) is not None}


def document_of(raw: bytes | str) -> tuple[str, str] | None:
    """The (job_id, doc_id) an unacknowledged message of ``ragqa.ingest_document`` carries, else None.

    The hash holds ``[message, exchange, routing_key]``; Celery's protocol 2 body is
    ``[args, kwargs, embed]``, base64-encoded, and the task's first argument is a DocumentTask.
    """
    try:
        message = json.loads(raw)[0]
        if message.get("headers", {}).get("task") != INGEST_DOCUMENT:
            return None
        body = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        task = json.loads(body)[0][0]
        return str(task["job_id"]), str(task["file"]["doc_id"])
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None  # not a message of ours, or not one this reader knows: never a reason to resend
