"""Ingestion jobs kept in Redis: any process with the same Redis and prefix sees the same jobs.

It takes a synchronous client of one Redis server or of a Redis Cluster (``state.topology``); keys
start with the configured prefix and are named by ``state.keys.Keyspace`` (``<id>`` is a value; the
braces are literal, a hash tag)::

    <prefix>job:{<id>}            hash   collection, state, runner, owner, spec, created_at, updated_at,
                                         cancel, error_*
    <prefix>job:{<id>}:docs       hash   doc_id -> JSON {name, state, status, chunks, error_code, reason}
    <prefix>job:{<id>}:open       set    doc_ids not yet final (the last one to leave closes the job)
    <prefix>job:{<id>}:deliveries hash   doc_id -> times it was handed to a runner
    <prefix>job:{<id>}:solo       hash   doc_id -> times it ran alone in its process (after a crash)
    <prefix>jobs                  zset   job ids by creation time (for listing)
    <prefix>jobs:open             set    ids of jobs not yet over (for recovery)
    <prefix>runner:<owner>        string present while the in-process runner ``owner`` is alive

A job's keys share its hash tag, so every script and transaction here stays in one slot of a
cluster. The two indexes (``jobs``, ``jobs:open``) live in slots of their own and are written just
after the job's own step: a job is recorded, then listed; closed, then unlisted. Their readers
skip an id whose job is gone, and ``open_jobs`` forgets one that is over. A process that dies between
the two steps of ``create`` leaves a job that ``recent`` does not list and no runner recovers (it
never started: its submitter died with it); ``get`` still finds it.

A job recorded before the keys were tagged (``job:<id>``) is still shown by ``get`` and ``recent``,
read only: it is not resumed. Let jobs finish before such an upgrade.

An in-process job keeps its spec and its owner: when the owner's key expires (the server
crashed, or stopped before the job ended), the next ``ragqa serve`` claims the job and runs its
documents that are not yet final. Celery jobs need none of it: the broker redelivers.

(The index versions that invalidate cached answers live in the index itself: ``retrieval.versions``.)

Example::

    store = JobStore(redis.Redis(), prefix="ragqa:")
    store.create(JobSpec(job_id, "docs", files), runner="celery")
    store.set_document(job_id, "a.txt", "parsing")    # "moved"
    store.get(job_id).state                           # "running"
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from redis.typing import EncodableT, FieldT

from core.errors import NotFound, RagqaError, StoreUnavailable
from jobs.records import (
    FINAL_DOC_STATES,
    OPEN_JOB_STATES,
    DocState,
    DocumentProgress,
    Job,
    JobState,
    Move,
    RunnerKind,
)
from jobs.scripts import CANCEL_JOB, CLAIM_JOB, MOVE_DOCUMENT
from jobs.spec import JobSpec
from state.keys import Keyspace
from state.topology import REDIS_ERRORS, SyncRedis

T = TypeVar("T")
_MOVES: tuple[Move, ...] = ("refused", "moved", "closed")


def guarded(what: str, fn: Callable[[], T]) -> T:
    """Runs a Redis call; a Redis failure becomes ``StoreUnavailable`` naming ``what`` failed."""
    try:
        return fn()
    except REDIS_ERRORS as exc:
        raise StoreUnavailable(f"the job store (Redis) failed to {what}: {exc}") from exc


def as_text(raw: object) -> str:
    """A Redis reply (bytes) or a value as ``str``."""
    return raw.decode() if isinstance(raw, bytes) else str(raw)


class JobStore:
    """Job records, document moves, cancel, and the in-process runners' leases."""

    def __init__(self, client: SyncRedis, prefix: str = "ragqa:", ttl_s: int = 7 * 24 * 3600) -> None:
        self.client = client
        self.keyspace = Keyspace(prefix)
        self.ttl_s = ttl_s
        self._move = client.register_script(MOVE_DOCUMENT)
        self._cancel = client.register_script(CANCEL_JOB)
        self._claim = client.register_script(CLAIM_JOB)

    def _key(self, job_id: str) -> str:
        return self.keyspace.job(job_id)

    def _keys(self, job_id: str) -> list[str]:
        """The keys the scripts take (one slot): the job, its documents, its open and active documents."""
        k = self.keyspace
        return [k.job(job_id), k.job_docs(job_id), k.job_open(job_id), k.job_active(job_id)]

    @property
    def _recent_key(self) -> str:
        return self.keyspace.jobs

    def create(self, spec: JobSpec, runner: RunnerKind, owner: str | None = None, queue: str | None = None) -> None:
        """Records ``spec`` as a queued job, with what a recovery needs: the spec, and its owner or queue."""
        now = time.time()
        meta: dict[FieldT, EncodableT] = {
            "collection": spec.collection, "state": "queued", "runner": runner, "created_at": now,
            "updated_at": now, "cancel": 0, "spec": json.dumps(spec.to_dict()),
        }  # fmt: skip
        if owner is not None:
            meta["owner"] = owner
        if queue is not None:
            meta["queue"] = queue
        docs: dict[FieldT, EncodableT] = {
            f.doc_id: DocumentProgress(f.doc_id, f.name).to_json() for f in spec.files
        }
        job_key, docs_key, open_key, _ = self._keys(spec.job_id)

        def write() -> None:
            pipe = self.client.pipeline(transaction=True)  # the job's own keys: one slot
            pipe.hset(job_key, mapping=meta)
            if docs:
                pipe.hset(docs_key, mapping=docs)
                pipe.sadd(open_key, *docs)
            else:  # nothing to run: over at once
                pipe.hset(job_key, "state", "done")
            for key in (job_key, docs_key, open_key):
                pipe.expire(key, self.ttl_s)
            pipe.execute()
            listing = self.client.pipeline(transaction=False)  # the indexes, in slots of their own
            if docs:
                listing.sadd(self.keyspace.open_jobs, spec.job_id)
            listing.zadd(self._recent_key, {spec.job_id: now})
            listing.zremrangebyscore(self._recent_key, "-inf", now - self.ttl_s)
            listing.execute()

        guarded("create a job", write)

    def recent(self, limit: int = 20) -> list[Job]:
        """The latest jobs, newest first (those not yet expired)."""
        ids = guarded("list jobs", lambda: self.client.zrevrange(self._recent_key, 0, max(0, limit - 1)))
        jobs = []
        for raw in ids:
            try:
                jobs.append(self.get(as_text(raw)))
            except NotFound:
                continue  # expired since it was listed
        return jobs

    def get(self, job_id: str) -> Job:
        def read(job_key: str, docs_key: str) -> tuple[dict[bytes, bytes], dict[bytes, bytes]]:
            pipe = self.client.pipeline(transaction=False)
            pipe.hgetall(job_key)
            pipe.hgetall(docs_key)
            meta, docs = pipe.execute()
            return meta, docs

        k = self.keyspace
        meta, docs = guarded("read a job", lambda: read(k.job(job_id), k.job_docs(job_id)))
        if not meta:  # maybe recorded before the keys were tagged: shown as it was left
            meta, docs = guarded("read a job", lambda: read(k.legacy_job(job_id), k.legacy_job_docs(job_id)))
        if b"collection" not in meta:  # absent, expired, or partly evicted by a cache Redis
            raise NotFound(f"job {job_id!r} does not exist (or has expired)")
        m = {k.decode(): v.decode() for k, v in meta.items()}
        documents = sorted((DocumentProgress.from_json(v) for v in docs.values()), key=lambda d: d.doc_id)
        return Job(
            job_id=job_id, collection=m["collection"], state=m["state"],  # type: ignore[arg-type]
            created_at=float(m["created_at"]), updated_at=float(m["updated_at"]), documents=documents,
            cancel_requested=m.get("cancel") == "1", error_code=m.get("error_code"), error=m.get("error"),
            runner=m.get("runner", "celery"),  # type: ignore[arg-type]
        )  # fmt: skip

    def state(self, job_id: str) -> JobState | None:
        """The job's state alone (None when it does not exist): cheaper than ``get`` for big jobs."""
        raw = guarded("read a job", lambda: self.client.hget(self._key(job_id), "state"))
        if raw is None:
            return None
        state: JobState = as_text(raw)  # type: ignore[assignment]
        return state

    def document(self, job_id: str, doc_id: str) -> DocumentProgress | None:
        raw = guarded("read a document's progress", lambda: self.client.hget(self.keyspace.job_docs(job_id), doc_id))
        return DocumentProgress.from_json(raw) if raw else None

    def set_state(self, job_id: str, state: JobState, error: RagqaError | None = None) -> None:
        fields: dict[FieldT, EncodableT] = {"state": state, "updated_at": time.time()}
        if error is not None:
            fields.update(error_code=error.code, error=error.message)

        def write() -> None:
            self.client.hset(self._key(job_id), mapping=fields)
            if state not in OPEN_JOB_STATES:  # then unlisted (another slot)
                self.client.srem(self.keyspace.open_jobs, job_id)

        guarded("update a job", write)

    def set_document(self, job_id: str, doc_id: str, state: DocState, **changes: Any) -> Move:
        """Moves one document to ``state``, atomically; a document already final never moves again.

        Returns ``"refused"`` (it was final: a duplicate delivery, or cancelled meanwhile),
        ``"moved"``, or ``"closed"`` (moved, and it was the job's last open document: the job
        is now done, or cancelled if a cancel was requested).
        """
        final = "1" if state in FINAL_DOC_STATES else "0"
        args: list[str | float] = [doc_id, state, json.dumps(changes), time.time(), final]
        code = guarded("update a document's progress",
                      lambda: self._move(keys=self._keys(job_id), args=args))  # fmt: skip
        move = _MOVES[int(code)]
        if move == "closed":
            self._unlist(job_id)
        return move

    def _unlist(self, job_id: str) -> None:
        """Takes a job that is over out of the open jobs (after the step that closed it: another slot)."""
        guarded("update the open jobs", lambda: self.client.srem(self.keyspace.open_jobs, job_id))

    def request_cancel(self, job_id: str) -> Job:
        """Stops the job: documents still queued are cancelled now; those in progress finish."""
        cancelled = guarded("cancel a job", lambda: self._cancel(keys=self._keys(job_id), args=[time.time()]))
        if int(cancelled) < 0:
            raise NotFound(f"job {job_id!r} does not exist (or has expired)")
        job = self.get(job_id)
        if job.state not in OPEN_JOB_STATES:
            self._unlist(job_id)
        return job

    def cancel_requested(self, job_id: str) -> bool:
        return guarded("read a job", lambda: self.client.hget(self._key(job_id), "cancel")) == b"1"

    def count_solo_run(self, job_id: str, doc_id: str) -> int:
        """Counts one run of a document alone in its worker process (after a crash); returns the total."""
        return self._count(self.keyspace.job_solo(job_id), doc_id)

    def solo_runs(self, job_id: str, doc_id: str) -> int:
        raw = guarded("read a document's runs", lambda: self.client.hget(self.keyspace.job_solo(job_id), doc_id))
        return int(raw) if raw else 0

    def count_delivery(self, job_id: str, doc_id: str) -> int:
        """Counts one more hand-over of a document to a runner; returns the total so far."""
        return self._count(self.keyspace.job_deliveries(job_id), doc_id)

    def _count(self, key: str, doc_id: str) -> int:
        def count() -> int:
            pipe = self.client.pipeline(transaction=True)
            pipe.hincrby(key, doc_id, 1)
            pipe.expire(key, self.ttl_s)
            return int(pipe.execute()[0])

        return guarded("count a delivery", count)

    # In-process runners: a lease per live runner, and the jobs a dead one left open.

    def _runner_key(self, owner: str) -> str:
        return self.keyspace.runner(owner)

    def renew_lease(self, owner: str, lease_s: float) -> None:
        guarded("renew a runner's lease", lambda: self.client.set(self._runner_key(owner), 1, px=int(lease_s * 1000)))

    def release_lease(self, owner: str) -> None:
        guarded("release a runner's lease", lambda: self.client.delete(self._runner_key(owner)))

    def open_jobs(self, *fields: str) -> list[tuple[str, list[str | None]]]:
        """Jobs not yet over, each with ``fields`` of its record; forgets the ids of expired ones."""
        members = guarded("list open jobs", lambda: self.client.smembers(self.keyspace.open_jobs))
        ids = sorted(as_text(raw) for raw in members)

        def read() -> list[list[Any]]:
            pipe = self.client.pipeline(transaction=False)
            for job_id in ids:
                pipe.hmget(self._key(job_id), "state", *fields)
            return pipe.execute()

        found, gone = [], []
        for job_id, (state, *values) in zip(ids, guarded("list open jobs", read), strict=True):
            if state is None or as_text(state) not in OPEN_JOB_STATES:
                gone.append(job_id)
            else:
                found.append((job_id, [None if v is None else as_text(v) for v in values]))
        if gone:
            guarded("forget ended jobs", lambda: self.client.srem(self.keyspace.open_jobs, *gone))
        return found

    def orphaned(self) -> list[str]:
        """Open in-process jobs whose runner is gone (its lease expired or was released)."""
        candidates = [(job_id, owner) for job_id, (runner, owner) in self.open_jobs("runner", "owner")
                      if runner == "inprocess" and owner]

        def alive() -> list[int]:
            pipe = self.client.pipeline(transaction=False)
            for _, owner in candidates:
                pipe.exists(self._runner_key(str(owner)))
            return pipe.execute()

        return [job_id for (job_id, _), live in zip(candidates, guarded("read leases", alive), strict=True) if not live]

    def spec(self, job_id: str) -> tuple[JobSpec, str | None] | None:
        """The job's spec and queue as recorded (None for a job recorded without one, or gone)."""
        raw, queue = guarded("read a job", lambda: self.client.hmget(self._key(job_id), "spec", "queue"))
        if raw is None:
            return None
        return JobSpec.from_dict(json.loads(raw)), None if queue is None else as_text(queue)

    def claim(self, job_id: str, owner: str) -> JobSpec | None:
        """Takes an orphaned in-process job over for ``owner``; its spec, or None when another runner won."""
        def claim() -> Any:
            gone = self.client.hget(self._key(job_id), "owner")
            if gone is not None and self.client.exists(self._runner_key(as_text(gone))):
                return None  # its runner is alive
            # Owner and lease are in different slots: the script changes the owner only if it is still the one
            # found gone, so of two claimants the second finds it moved.
            return self._claim(keys=[self._key(job_id)], args=[owner, "" if gone is None else as_text(gone)])

        raw = guarded("claim a job", claim)
        if not raw:
            return None
        return JobSpec.from_dict(json.loads(raw))
