"""Celery workers: durable ingestion jobs, one task per document (see docs/architecture.md)."""
