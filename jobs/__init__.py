"""Ingestion job state: records, the Redis store and its scripts, and one document state machine.

``jobs.document.run_document`` is the one path a job's document takes, whoever runs it: the
in-process runner of ``ragqa serve`` (``jobs.runner``) or a Celery worker (``workers.tasks``).
"""
