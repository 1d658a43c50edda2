"""Ingestion jobs kept in Redis.

The store lives in ``ingest`` (not ``api``) so that whoever runs a job, the API's in-process
runner today or a Celery worker tomorrow, updates the same records without importing the API.
It takes a plain synchronous ``redis.Redis``; keys start with the configured prefix::

    {prefix}job:{id}          hash   collection, state, created_at, updated_at, cancel, error_*
    {prefix}job:{id}:docs     hash   doc_id -> JSON {name, state, status, chunks, error_code, reason}
    {prefix}job:{id}:open     set    doc_ids not yet final (the last one to leave closes the job)
    {prefix}job:{id}:deliveries hash doc_id -> times its task was handed to a worker
    {prefix}job:{id}:solo     hash   doc_id -> times it ran alone in its process (after a crash)
    {prefix}jobs              zset   job ids by creation time (for listing)

(The index versions that invalidate cached answers live in the index itself: ``retrieval.versions``.)

A job moves ``queued -> running -> done | failed | cancelled``; each of its documents moves
``queued -> parsing -> embedding -> indexing -> done | failed | cancelled``.

    >>> store = JobStore(redis.Redis(), prefix="ragqa:")  # doctest: +SKIP
    >>> job_id = store.create("docs", [("a.txt", "a.txt")])  # doctest: +SKIP
    >>> store.get(job_id).state  # doctest: +SKIP
    'queued'
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypeVar

import redis
from redis.typing import EncodableT, FieldT

from core.errors import NotFound, RagqaError
from ingest.job_scripts import CANCEL_JOB, MOVE_DOCUMENT

T = TypeVar("T")

JobState = Literal["queued", "running", "done", "failed", "cancelled"]
Move = Literal["refused", "moved", "closed"]
DocState = Literal["queued", "parsing", "embedding", "indexing", "done", "failed", "cancelled"]
DOC_STATES: tuple[DocState, ...] = ("queued", "parsing", "embedding", "indexing", "done", "failed", "cancelled")
FINAL_DOC_STATES = frozenset({"done", "failed", "cancelled"})


class StoreUnavailable(RagqaError):
    """Redis (ingestion jobs, the answer cache, feedback) cannot be reached."""

    code = "store_unavailable"
    transient = True


@dataclass(slots=True)
class DocumentProgress:
    doc_id: str
    name: str
    state: DocState = "queued"
    status: str | None = None  # the ingest outcome once done: added, updated or unchanged
    chunks: int = 0
    error_code: str | None = None
    reason: str | None = None


@dataclass(slots=True)
class Job:
    """One ingestion job as stored: its state and every document's progress."""

    job_id: str
    collection: str
    state: JobState
    created_at: float
    updated_at: float
    documents: list[DocumentProgress] = field(default_factory=list)
    cancel_requested: bool = False
    error_code: str | None = None
    error: str | None = None

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(DOC_STATES, 0)
        for doc in self.documents:
            counts[doc.state] += 1
        return counts

    @property
    def chunks_written(self) -> int:
        return sum(d.chunks for d in self.documents if d.status in ("added", "updated"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id, "collection": self.collection, "state": self.state,
            "created_at": self.created_at, "updated_at": self.updated_at,
            "cancel_requested": self.cancel_requested, "counts": self.counts(), "total": len(self.documents),
            "chunks_written": self.chunks_written,
            "error": {"code": self.error_code, "message": self.error} if self.error_code else None,
            "documents": [asdict(d) for d in self.documents],
        }  # fmt: skip


def _guard(what: str, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except redis.RedisError as exc:
        raise StoreUnavailable(f"the job store (Redis) failed to {what}: {exc}") from exc


class JobStore:
    """Ingestion jobs in Redis; any process with the same Redis and prefix sees the same jobs.

    Example::

        store = JobStore(client, prefix="ragqa:", ttl_s=7 * 86400)
        job_id = store.create("docs", [("report.pdf", "report.pdf")])
        store.set_document(job_id, "report.pdf", "parsing")
        store.get(job_id).counts()["parsing"]  # 1
    """

    def __init__(self, client: redis.Redis, prefix: str = "ragqa:", ttl_s: int = 7 * 24 * 3600) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._move = client.register_script(MOVE_DOCUMENT)
        self._cancel = client.register_script(CANCEL_JOB)

    def _key(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}"

    def _keys(self, job_id: str) -> list[str]:
        key = self._key(job_id)
        return [key, key + ":docs", key + ":open"]

    def create(self, collection: str, documents: Sequence[tuple[str, str]]) -> str:
        """A new queued job over ``(doc_id, name)`` pairs; returns its id."""
        job_id = uuid.uuid4().hex
        now = time.time()
        meta: dict[FieldT, EncodableT] = {
            "collection": collection, "state": "queued", "created_at": now, "updated_at": now, "cancel": 0,
        }
        docs: dict[FieldT, EncodableT] = {
            doc_id: json.dumps(asdict(DocumentProgress(doc_id, name))) for doc_id, name in documents
        }
        job_key, docs_key, open_key = self._keys(job_id)

        def write() -> None:
            pipe = self.client.pipeline(transaction=True)
            pipe.hset(job_key, mapping=meta)
            if docs:
                pipe.hset(docs_key, mapping=docs)
                pipe.sadd(open_key, *docs)
            for key in (job_key, docs_key, open_key):
                pipe.expire(key, self.ttl_s)
            pipe.zadd(self._recent_key, {job_id: now})
            pipe.zremrangebyscore(self._recent_key, "-inf", now - self.ttl_s)
            pipe.execute()

        _guard("create a job", write)
        return job_id

    @property
    def _recent_key(self) -> str:
        return f"{self.prefix}jobs"

    def recent(self, limit: int = 20) -> list[Job]:
        """The latest jobs, newest first (those not yet expired)."""
        ids = _guard("list jobs", lambda: self.client.zrevrange(self._recent_key, 0, max(0, limit - 1)))
        jobs = []
        for raw in ids:
            try:
                jobs.append(self.get(raw.decode() if isinstance(raw, bytes) else str(raw)))
            except NotFound:
                continue  # expired since it was listed
        return jobs

    def get(self, job_id: str) -> Job:
        def read() -> tuple[dict[bytes, bytes], dict[bytes, bytes]]:
            pipe = self.client.pipeline(transaction=False)
            pipe.hgetall(self._key(job_id))
            pipe.hgetall(self._key(job_id) + ":docs")
            meta, docs = pipe.execute()
            return meta, docs

        meta, docs = _guard("read a job", read)
        if b"collection" not in meta:  # absent, expired, or partly evicted by a cache Redis
            raise NotFound(f"job {job_id!r} does not exist (or has expired)")
        m = {k.decode(): v.decode() for k, v in meta.items()}
        documents = [_progress(v) for v in docs.values()]
        documents.sort(key=lambda d: d.doc_id)
        return Job(
            job_id=job_id, collection=m["collection"], state=m["state"],  # type: ignore[arg-type]
            created_at=float(m["created_at"]), updated_at=float(m["updated_at"]), documents=documents,
            cancel_requested=m.get("cancel") == "1", error_code=m.get("error_code"), error=m.get("error"),
        )  # fmt: skip

    def state(self, job_id: str) -> JobState | None:
        """The job's state alone (None when it does not exist): cheaper than ``get`` for big jobs."""
        raw = _guard("read a job", lambda: self.client.hget(self._key(job_id), "state"))
        if raw is None:
            return None
        state: JobState = raw.decode() if isinstance(raw, bytes) else raw  # type: ignore[assignment]
        return state

    def document(self, job_id: str, doc_id: str) -> DocumentProgress | None:
        raw = _guard("read a document's progress", lambda: self.client.hget(self._key(job_id) + ":docs", doc_id))
        return _progress(raw) if raw else None

    def set_state(self, job_id: str, state: JobState, error: RagqaError | None = None) -> None:
        fields: dict[FieldT, EncodableT] = {"state": state, "updated_at": time.time()}
        if error is not None:
            fields.update(error_code=error.code, error=error.message)
        _guard("update a job", lambda: self.client.hset(self._key(job_id), mapping=fields))

    def set_document(self, job_id: str, doc_id: str, state: DocState, **changes: Any) -> Move:
        """Moves one document to ``state``, atomically; a document already final never moves again.

        Returns ``"refused"`` (it was final: a duplicate delivery, or cancelled meanwhile),
        ``"moved"``, or ``"closed"`` (moved, and it was the job's last open document: the job
        is now done, or cancelled if a cancel was requested).
        """
        final = "1" if state in FINAL_DOC_STATES else "0"
        args: list[str | float] = [doc_id, state, json.dumps(changes), time.time(), final]
        code = _guard("update a document's progress",
                      lambda: self._move(keys=self._keys(job_id), args=args))  # fmt: skip
        return _MOVES[int(code)]

    def request_cancel(self, job_id: str) -> Job:
        """Stops the job: documents still queued are cancelled now; those in progress finish."""
        cancelled = _guard("cancel a job", lambda: self._cancel(keys=self._keys(job_id), args=[time.time()]))
        if int(cancelled) < 0:
            raise NotFound(f"job {job_id!r} does not exist (or has expired)")
        return self.get(job_id)

    def cancel_requested(self, job_id: str) -> bool:
        return _guard("read a job", lambda: self.client.hget(self._key(job_id), "cancel")) == b"1"

    def count_solo_run(self, job_id: str, doc_id: str) -> int:
        """Counts one run of a document alone in its worker process (after a crash); returns the total."""
        return self._count(job_id, "solo", doc_id)

    def solo_runs(self, job_id: str, doc_id: str) -> int:
        raw = _guard("read a document's runs", lambda: self.client.hget(self._key(job_id) + ":solo", doc_id))
        return int(raw) if raw else 0

    def count_delivery(self, job_id: str, doc_id: str) -> int:
        """Counts one more hand-over of a document's task to a worker; returns the total so far."""
        return self._count(job_id, "deliveries", doc_id)

    def _count(self, job_id: str, what: str, doc_id: str) -> int:
        key = f"{self._key(job_id)}:{what}"

        def count() -> int:
            pipe = self.client.pipeline(transaction=True)
            pipe.hincrby(key, doc_id, 1)
            pipe.expire(key, self.ttl_s)
            return int(pipe.execute()[0])

        return _guard("count a delivery", count)


def _progress(raw: bytes | str) -> DocumentProgress:
    data = json.loads(raw)
    return DocumentProgress(**{k: data.get(k) for k in _PROGRESS_FIELDS if k in data})


_PROGRESS_FIELDS = tuple(DocumentProgress.__dataclass_fields__)
_MOVES: tuple[Move, ...] = ("refused", "moved", "closed")
