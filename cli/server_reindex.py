"""`ragqa collection reindex` through a running `ragqa serve`: the server that holds an embedded
store re-indexes it (``api.reindex``) while it answers; this asks it to, with this command's chunking,
and follows the task to its end.

The server embeds with the model it loaded, so the request names this command's embedder settings and
the server refuses when they differ (a new embedder needs the server restarted).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from cli.server_ingest import call_server
from core.errors import RagqaError
from core.settings import Settings

POLL_S = 0.5


def reindex_request(settings: Settings, grace_s: float, stored_text: bool) -> dict[str, Any]:
    """The body of ``POST /collections/{name}/reindex`` for this command's settings."""
    embedding = settings.embedding
    return {"chunk_size": settings.chunking.chunk_size, "chunk_overlap": settings.chunking.chunk_overlap,
            "grace_s": grace_s, "stored_text": stored_text, "embedding_backend": embedding.backend,
            "embedding_model_path": str(embedding.model_path.resolve()) if embedding.model_path else None}


def reindex_through_server(url: str, name: str, body: dict[str, Any], api_key: str | None,
                           on_progress: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Starts the re-index on the server at ``url`` and polls it until it is over; its last status.
    ``on_progress`` hears every status polled (the first and the last included)."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=60.0) as client:
        task = call_server(client, "POST", f"/collections/{name}/reindex", json=body)
        on_progress(task)
        while task["state"] in ("queued", "running"):
            time.sleep(POLL_S)
            task = call_server(client, "GET", task["status_url"])
            on_progress(task)
        return task


def task_error(task: dict[str, Any], url: str) -> RagqaError:
    """A failed task's error as one of ours, with the server's code."""
    error = task.get("error") or {}
    failed = RagqaError(f"the re-index on {url} failed: {error.get('message', 'no reason given')}")
    failed.code = str(error.get("code", "internal_error"))
    return failed


def progress_line(task: dict[str, Any]) -> str:
    """``running: 3/10 documents rebuilt, 120 chunks`` (and the switch, once made)."""
    total = task["documents_total"]
    line = f"{task['state']}: {task['documents_done']}/{total if total is not None else '?'} documents rebuilt"
    if task["documents_failed"]:
        line += f", {task['documents_failed']} failed"
    line += f", {task['chunks_written']} chunks"
    if task["switched_at"] is not None:
        line += f"; switched, the old collection goes in {task['grace_s']:g} s" if task["state"] == "running" \
            else "; switched"
    return line
