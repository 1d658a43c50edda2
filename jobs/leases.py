"""Who is running which document: leases that a live worker renews, so a dead one's documents
are handed on within seconds instead of at the broker's visibility timeout (15 minutes).

A worker holds a lease on each document it runs (``hold`` before the document is claimed,
renewed every third of ``lease_s``) and on each queue it consumes. A document still in progress
(parsing, embedding, indexing) whose lease lapsed belonged to a worker that died: ``take_stalled``
gives it to exactly one sweeping worker (``SET NX``), which puts it back in the queue
(``queued``, with its reason) and sends a new message. The new delivery counts as a crash in the
document's state machine (``jobs.document``), so a document that keeps killing workers still
ends as poison. The broker's own redelivery of the old message, later, finds the document final
or queued and is harmless.

Example::

    leases = DocumentLeases(store, owner="worker-1@host", lease_s=30)
    leases.hold(task)                  # before run_document; renew() every 10 s while it runs
    for task, queue in leases.take_stalled():
        app.send_task(INGEST_DOCUMENT, args=[task.to_dict()], queue=queue)
"""

from __future__ import annotations

import time
from typing import Any

from jobs.spec import DocumentTask
from jobs.store import JobStore, as_text, guarded

_STALLED_STATES = ("parsing", "embedding", "indexing")


class DocumentLeases:
    """Leases of the documents and queues one worker process holds, over the job store's Redis."""

    def __init__(self, store: JobStore, owner: str, lease_s: float) -> None:
        self.store = store
        self.owner = owner
        self.lease_ms = int(lease_s * 1000)
        self._client = store.client
        self._keys = store.keyspace

    def hold(self, task: DocumentTask) -> bool:
        """Takes the document's lease for this worker; False when another live worker holds it.

        A False is a second delivery of a document that runs elsewhere (the broker's redelivery of a
        message that was handed on meanwhile): the caller skips it, uncounted, and the running one
        ends it. The document joins the job's active set, so a death before its claim is seen too.
        """
        key = self._keys.job_lease(task.job_id, task.file.doc_id)

        def take() -> bool:
            pipe = self._client.pipeline(transaction=True)
            pipe.set(key, self.owner, nx=True, px=self.lease_ms)
            pipe.get(key)
            pipe.sadd(self._keys.job_active(task.job_id), task.file.doc_id)
            pipe.expire(self._keys.job_active(task.job_id), self.store.ttl_s)
            _, holder, _, _ = pipe.execute()
            return as_text(holder) == self.owner

        return bool(guarded("hold a document", take))

    def release(self, task: DocumentTask) -> None:
        """Lets the document go: it is final, or waits for its retry; no longer running here."""
        key = self._keys.job_lease(task.job_id, task.file.doc_id)

        def drop() -> None:
            pipe = self._client.pipeline(transaction=True)
            pipe.srem(self._keys.job_active(task.job_id), task.file.doc_id)
            pipe.execute()
            if as_text(self._client.get(key)) == self.owner:  # not a lease another worker took since
                self._client.delete(key)

        guarded("release a document", drop)

    def renew(self, tasks: list[DocumentTask], queues: list[str]) -> None:
        """Renews the leases of the documents this process runs, and its presence on each queue."""
        now_ms = int(time.time() * 1000)

        def write() -> None:
            pipe = self._client.pipeline(transaction=False)
            for task in tasks:
                pipe.set(self._keys.job_lease(task.job_id, task.file.doc_id), self.owner, px=self.lease_ms)
            for queue in queues:
                key = self._keys.consumers(queue)
                pipe.zadd(key, {self.owner: now_ms + self.lease_ms})
                pipe.zremrangebyscore(key, "-inf", now_ms)
            pipe.execute()

        guarded("renew leases", write)

    def leave(self, queues: list[str]) -> None:
        def write() -> None:
            pipe = self._client.pipeline(transaction=False)
            for queue in queues:
                pipe.zrem(self._keys.consumers(queue), self.owner)
            pipe.execute()

        guarded("leave the queues", write)

    def consumers(self, queue: str) -> int:
        """How many live workers consume ``queue``."""
        key = self._keys.consumers(queue)
        return int(guarded("count consumers", lambda: self._client.zcount(key, int(time.time() * 1000), "+inf")))

    def take_stalled(self) -> list[tuple[DocumentTask, str | None]]:
        """Documents a dead worker left in progress, each taken by this worker alone, back in the queue."""
        taken = []
        for job_id, (runner,) in self.store.open_jobs("runner"):
            if runner != "celery":
                continue  # in-process jobs resume through their runner's lease (``jobs.runner``)
            for doc_id in self._stalled_in(job_id):
                if not self._take(job_id, doc_id):
                    continue  # its worker renewed it meanwhile, or another sweeper took it
                found = self._back_in_queue(job_id, doc_id, "its worker stopped mid-document; handed to another")
                if found is None:  # gone from the spec, or already final: nothing to do
                    self._forget(job_id, doc_id)
                else:
                    taken.append(found)
        return taken

    def _back_in_queue(self, job_id: str, doc_id: str, reason: str) -> tuple[DocumentTask, str | None] | None:
        """Moves a document this worker has taken back to ``queued`` and lets its lease go (for the new
        delivery's worker); its task and queue to send it with, or None when there is nothing to send."""
        recorded = self.store.spec(job_id)
        task = next((t for t in recorded[0].tasks() if t.file.doc_id == doc_id), None) if recorded else None
        moved = self.store.set_document(job_id, doc_id, "queued", reason=reason)
        self._free(job_id, doc_id)
        if task is None or recorded is None or moved == "refused":
            return None
        return task, recorded[1]

    def take_lost(self, empty_queues: set[str], in_broker: set[tuple[str, str]],
                  suspects: dict[tuple[str, str], float], min_age_s: float) -> list[tuple[DocumentTask, str]]:
        """Documents whose message is gone from the broker, each taken by this worker alone, sent again.

        Redis as a broker pops a message and records it as unacknowledged in two steps: a worker
        killed between them takes the message with it, and the broker never delivers it again. Such
        a document stays queued, unheld, with no message anywhere, and its job never ends. It is
        looked for only in jobs whose queue is empty (``empty_queues``: a backlog needs no scan),
        among the open documents no worker holds and ``in_broker`` (the unacknowledged messages'
        documents) lacks; one is sent again when it has looked lost for ``min_age_s`` (a live worker
        holds what it pops within milliseconds). ``suspects`` (first seen lost, ``time.monotonic``)
        is the caller's memory between sweeps; this rewrites it.
        """
        now = time.monotonic()
        lost: dict[tuple[str, str], str] = {}
        for job_id, (runner, queue) in self.store.open_jobs("runner", "queue"):
            if runner == "celery" and queue in empty_queues:
                for doc_id in self._unheld_open(job_id):
                    if (job_id, doc_id) not in in_broker:
                        lost[(job_id, doc_id)] = queue
        previous = dict(suspects)
        suspects.clear()
        suspects.update({key: previous.get(key, now) for key in lost})
        taken = []
        for (job_id, doc_id), queue in lost.items():
            if now - suspects[(job_id, doc_id)] < min_age_s or not self._take(job_id, doc_id):
                continue
            suspects.pop((job_id, doc_id))
            found = self._back_in_queue(job_id, doc_id, "its message was lost with a worker killed as it took it; "
                                                        "sent again")
            if found is not None:
                taken.append((found[0], queue))
        return taken

    def _unheld_open(self, job_id: str) -> list[str]:
        """The job's documents not yet final that no worker has taken (queued, by their record)."""
        def read() -> tuple[set[bytes], set[bytes]]:
            pipe = self._client.pipeline(transaction=False)
            pipe.smembers(self._keys.job_open(job_id))
            pipe.smembers(self._keys.job_active(job_id))
            unfinished, active = pipe.execute()
            return unfinished, active

        unfinished, active = guarded("read a job", read)
        return sorted(as_text(d) for d in unfinished - active)

    def _forget(self, job_id: str, doc_id: str) -> None:
        key = self._keys.job_active(job_id)
        guarded("forget a document", lambda: self._client.srem(key, doc_id))

    def _free(self, job_id: str, doc_id: str) -> None:
        key = self._keys.job_lease(job_id, doc_id)
        guarded("hand a document on", lambda: self._client.delete(key))

    def _take(self, job_id: str, doc_id: str) -> bool:
        key = self._keys.job_lease(job_id, doc_id)
        return bool(guarded("take a document", lambda: self._client.set(key, self.owner, nx=True, px=self.lease_ms)))

    def _stalled_in(self, job_id: str) -> list[str]:
        active = sorted(as_text(d) for d in guarded("read a job", lambda: self._client.smembers(
            self._keys.job_active(job_id))))
        if not active:
            return []

        def read() -> list[Any]:
            pipe = self._client.pipeline(transaction=False)
            for doc_id in active:
                pipe.exists(self._keys.job_lease(job_id, doc_id))
            return pipe.execute()

        return [doc_id for doc_id, held in zip(active, guarded("read leases", read), strict=True) if not held]
