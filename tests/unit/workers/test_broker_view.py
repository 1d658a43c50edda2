"""Reading the documents out of kombu's unacknowledged Redis messages (pure parsing)."""

from __future__ import annotations

import base64
import json

from workers.app import INGEST_DOCUMENT
from workers.broker_view import document_of


def message(task: str, args: list[object], encoding: str | None = "base64") -> str:
    body = json.dumps([args, {}, {}])
    raw = base64.b64encode(body.encode()).decode() if encoding == "base64" else body
    properties = {"body_encoding": encoding} if encoding else {}
    return json.dumps([{"body": raw, "headers": {"task": task}, "properties": properties}, "", "bulk"])


def test_an_ingestion_message_names_its_job_and_document() -> None:
    task = {"job_id": "j1", "collection": "docs", "file": {"doc_id": "a/b.txt", "name": "b.txt"}}
    assert document_of(message(INGEST_DOCUMENT, [task])) == ("j1", "a/b.txt")
    assert document_of(message(INGEST_DOCUMENT, [task], encoding=None).encode()) == ("j1", "a/b.txt")


def test_other_tasks_and_unreadable_messages_name_nothing() -> None:
    assert document_of(message("celery.ping", [])) is None
    assert document_of(message(INGEST_DOCUMENT, [])) is None
    assert document_of(message(INGEST_DOCUMENT, [{"job_id": "j1"}])) is None
    assert document_of(b"not json") is None
    assert document_of(json.dumps([{"body": "%%%", "headers": {"task": INGEST_DOCUMENT},
                                     "properties": {"body_encoding": "base64"}}])) is None
