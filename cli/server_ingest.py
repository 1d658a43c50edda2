"""`ragqa ingest --server URL`: send files to a running `ragqa serve` and follow the job it makes.

An embedded store admits one process: while `ragqa serve` holds it, the way to add documents is
through the server. The files keep the doc_ids and sources a local ingest would give them, so a
later local ingest updates the same documents instead of adding copies.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from core.errors import IngestError, InvalidRequest, NotFound, RagqaError, StoreUnavailable, Unauthorized
from ingest.files import check_file
from ingest.parsing import format_of
from ingest.sources import SourceDocument

RATE_LIMIT_WAITS = 10  # a polled job status may meet the server's rate limit: wait as told
UPLOAD_BATCH = 200  # files per request: bounded by the server's max_upload_bytes anyway


def local_rejections(sources: list[SourceDocument]) -> tuple[list[SourceDocument], list[dict[str, str]]]:
    """The sources worth sending, and the others with why: not a regular file in its folder (a FIFO
    would block the upload forever), or a type the server does not parse."""
    keep, rejected = [], []
    for source in sources:
        try:
            assert source.path is not None
            check_file(source.path, source.name, source.root)
            format_of(source.name)
            keep.append(source)
        except IngestError as exc:
            rejected.append({"doc_id": source.doc_id, "name": source.name, "error_code": exc.code,
                             "reason": exc.message})
    return keep, rejected


def ingest_through_server(url: str, sources: list[SourceDocument], collection: str, tags: dict[str, str] | None,
                          api_key: str | None, wait: bool, timeout_s: float = 3600.0) -> list[dict[str, Any]]:
    """Uploads ``sources`` in batches; returns each batch's job (followed to its end when ``wait``).
    Give it the sources ``local_rejections`` keeps."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    base = url.rstrip("/")
    with httpx.Client(base_url=base, headers=headers, timeout=60.0) as client:
        if not sources:
            return []
        job_ids = [_upload(client, batch, collection, tags)
                   for batch in (sources[i:i + UPLOAD_BATCH] for i in range(0, len(sources), UPLOAD_BATCH))]
        if not wait:
            return [call_server(client, "GET", f"/jobs/{job_id}") for job_id in job_ids]
        deadline = time.monotonic() + timeout_s
        jobs = []
        for job_id in job_ids:
            job = call_server(client, "GET", f"/jobs/{job_id}")
            while job["state"] in ("queued", "running") and time.monotonic() < deadline:
                time.sleep(0.5)
                job = call_server(client, "GET", f"/jobs/{job_id}")
            jobs.append(job)
        return jobs


def _upload(client: httpx.Client, batch: list[SourceDocument], collection: str,
            tags: dict[str, str] | None) -> str:
    data: dict[str, Any] = {"collection": collection, "doc_ids": [s.doc_id for s in batch],
                            "sources": [s.source for s in batch]}
    if tags:  # absent: the server keeps the tags it holds
        data["tags"] = [f"{k}={v}" for k, v in tags.items()]
    if batch and batch[0].acl is not None:  # absent: the server keeps the readers it holds
        data["acl"] = list(batch[0].acl)
    with _opened(batch) as files:
        accepted = call_server(client, "POST", "/documents", data=data, files=files)
    return str(accepted["job_id"])


@contextlib.contextmanager
def _opened(batch: list[SourceDocument]) -> Iterator[list[tuple[str, tuple[str | None, BinaryIO]]]]:
    with contextlib.ExitStack() as stack:
        files: list[tuple[str, tuple[str | None, BinaryIO]]] = []
        for source in batch:
            assert source.path is not None
            try:
                handle = stack.enter_context(Path(source.path).open("rb"))
            except OSError as exc:
                raise InvalidRequest(f"{source.source}: cannot read ({exc.strerror or exc})") from exc
            files.append(("files", (source.name, handle)))
        yield files


def call_server(client: httpx.Client, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    """One request to a ragqa server; its JSON body, or its error as one of ours (a GET that meets the
    rate limit waits as told and asks again)."""
    for _ in range(RATE_LIMIT_WAITS):
        try:
            response = client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"no ragqa server answers at {client.base_url} ({exc}); is `ragqa serve` "
                                   "running there?") from exc
        if response.status_code != 429 or method != "GET":  # an upload's files were consumed: not resent
            break
        time.sleep(min(30.0, float(response.headers.get("retry-after", "1"))))
    if response.is_success:
        body: dict[str, Any] = response.json()
        return body
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "http_error", response.text[:200] or response.reason_phrase
    detail = f"the server at {client.base_url} refused {method} {path} ({response.status_code} {code}): {message}"
    if response.status_code == 401:
        raise Unauthorized(detail + "; pass its API key with --api-key or RAGQA_API_KEY")
    if response.status_code == 404:
        raise NotFound(detail)
    if response.status_code >= 500:
        raise StoreUnavailable(detail)
    error_type = RagqaError if response.status_code != 400 else InvalidRequest
    raise error_type(detail)
