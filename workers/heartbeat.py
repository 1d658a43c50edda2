"""The worker process's heartbeat: it keeps the leases of the documents it runs and of the queues
it consumes, and hands on the documents a dead worker left in progress (``jobs.leases``).

One per worker process, started on first use (a prefork child starts its own: threads do not
survive a fork). With ``workers.document_lease_s`` = 30 s, a document whose worker was killed is
back in its queue within about 40 s, where the broker alone would wait its visibility timeout.

Example::

    heartbeat = WorkerHeartbeat(leases, app, queues=["ragqa.interactive"], lease_s=30)
    with heartbeat.running(task):
        run_document(task, store, pipeline, policy)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import structlog
from celery import Celery

from core.errors import RagqaError
from jobs.leases import DocumentLeases
from jobs.spec import DocumentTask
from workers.app import INGEST_DOCUMENT
from workers.broker_view import broker_view

log = structlog.get_logger(__name__)


class WorkerHeartbeat:
    """Renews this process's leases every third of ``lease_s`` and sweeps for stalled documents."""

    def __init__(self, leases: DocumentLeases, app: Celery, queues: list[str], lease_s: float) -> None:
        self.leases = leases
        self.app = app
        self.queues = queues
        self.interval_s = lease_s / 3
        self._running: dict[tuple[str, str], DocumentTask] = {}
        self._lost_since: dict[tuple[str, str], float] = {}  # documents that look lost (``take_lost``)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="ragqa-heartbeat", daemon=True)

    def start(self) -> WorkerHeartbeat:
        self._tick()
        self._thread.start()
        return self

    def received(self, task: DocumentTask) -> None:
        """Holds a document from the moment its message arrives (a pool that runs tasks in this process):
        one that waits for a free thread when the worker dies is handed on too, not left to the broker."""
        held: list[bool] = []
        self._call(lambda: held.append(self.leases.hold(task)))
        if held and held[0]:
            with self._lock:
                self._running[(task.job_id, task.file.doc_id)] = task

    @contextmanager
    def running(self, task: DocumentTask) -> Iterator[bool]:
        """Holds the document's lease while the block runs (taken before the document is claimed).

        Yields False when another live worker holds it: this delivery is a duplicate, to skip.
        Redis away: True (the job store's own retries decide), unheld.
        """
        key = (task.job_id, task.file.doc_id)
        held: list[bool] = []
        self._call(lambda: held.append(self.leases.hold(task)))
        if held and not held[0]:
            yield False
            return
        with self._lock:
            self._running[key] = task
        try:
            yield True
        finally:
            with self._lock:
                self._running.pop(key, None)
            self._call(lambda: self.leases.release(task))

    def _beat(self) -> None:
        while not self._stopping.wait(self.interval_s):
            self._tick()

    def _tick(self) -> None:
        with self._lock:
            tasks = list(self._running.values())
        self._call(lambda: self.leases.renew(tasks, self.queues))
        self._call(self._hand_on_stalled)
        self._call(self._send_lost_again)

    def _hand_on_stalled(self) -> None:
        for task, queue in self.leases.take_stalled():
            self.app.send_task(INGEST_DOCUMENT, args=[task.to_dict()], queue=queue or self.queues[0])
            log.warning("worker.document_handed_on", job_id=task.job_id, doc_id=task.file.doc_id, queue=queue,
                        reason="its worker's lease lapsed")

    def _send_lost_again(self) -> None:
        view = broker_view(self.app, self.queues)
        if view is None:
            return
        empty, in_broker = view
        # Twice the lease: a document just enqueued, or just popped by a live worker, is never taken for lost.
        for task, queue in self.leases.take_lost(empty, in_broker, self._lost_since, 6 * self.interval_s):
            self.app.send_task(INGEST_DOCUMENT, args=[task.to_dict()], queue=queue)
            log.warning("worker.document_sent_again", job_id=task.job_id, doc_id=task.file.doc_id, queue=queue,
                        reason="its message was lost with a worker killed as it took it")

    def _call(self, action: object) -> None:
        try:
            action()  # type: ignore[operator]
        except RagqaError as exc:  # Redis away: the next beat tries again; the broker stays the backstop
            log.warning("worker.heartbeat_skipped", error=exc.message)
        except Exception:  # a failed publish (broker away) must not end the heartbeat thread
            log.exception("worker.heartbeat_failed")

    def stop(self) -> None:
        self._stopping.set()
        self._call(lambda: self.leases.leave(self.queues))
