"""Helpers of the worker integration tests: one test's settings as RAGQA_* variables, a real
`ragqa worker` process, `ragqa ingest --queue`, waiting on a job, and small real documents.

    >>> env = WorkerEnv(tmp_path, SHARED_REDIS, "ragqa-wtest-1:")  # doctest: +SKIP
    >>> worker = WorkerProcess(env, "worker-1").start().wait_ready()  # doctest: +SKIP
    >>> job = wait_job(env.store(), enqueue(env, folder), 120, worker=worker)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from core.settings import Settings
from jobs.records import Job
from jobs.store import JobStore
from tests.support.environment import REPO

COLLECTION = "docs"
WORKER_READY_S = 120.0


@dataclass
class WorkerEnv:
    """Settings for every process of one test, as RAGQA_* variables (what a deployment would set)."""

    root: Path
    redis_url: str
    prefix: str
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def queue(self) -> str:
        return f"{self.prefix}interactive"

    @property
    def bulk_queue(self) -> str:
        return f"{self.prefix}bulk"

    def variables(self) -> dict[str, str]:
        return {
            "RAGQA_QDRANT__PATH": str(self.root / "qdrant"),
            "RAGQA_REDIS__URL": self.redis_url,
            "RAGQA_REDIS__KEY_PREFIX": self.prefix,
            "RAGQA_WORKERS__BROKER_KEY_PREFIX": f"{self.prefix}broker:",
            "RAGQA_WORKERS__INTERACTIVE_QUEUE": self.queue,
            "RAGQA_WORKERS__BULK_QUEUE": self.bulk_queue,
            "RAGQA_WORKERS__QUEUES": json.dumps([self.queue, self.bulk_queue]),
            "RAGQA_WORKERS__VISIBILITY_TIMEOUT_S": "10",
            "RAGQA_WORKERS__TASK_TIME_LIMIT_S": "8",
            "RAGQA_WORKERS__UNACKED_RESTORE_INTERVAL_S": "1",
            "RAGQA_WORKERS__RETRY_BACKOFF_S": "1",
            "RAGQA_WORKERS__RETRY_BACKOFF_MAX_S": "2",
            "RAGQA_WORKERS__STORE_RETRY_S": "30",
            "RAGQA_LOG_LEVEL": "WARNING",
            **self.extra,
        }

    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAGQA_")}
        env.update(self.variables(), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1")
        return env

    def settings(self) -> Settings:
        saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("RAGQA_")}
        try:
            os.environ.update(self.variables())
            return Settings(_env_file=None)  # type: ignore[call-arg]
        finally:
            for k in self.variables():
                os.environ.pop(k, None)
            os.environ.update(saved)

    def store(self) -> JobStore:
        # Timeouts: a test polling a Redis that a test restarts must fail, never block for good.
        client = redis.Redis.from_url(self.redis_url, socket_timeout=10, socket_connect_timeout=5)
        return JobStore(client, self.prefix)


class WorkerProcess:
    """One `ragqa worker` process; its output goes to a log file the test prints on failure."""

    def __init__(self, env: WorkerEnv, name: str, launcher: list[str] | None = None, *args: str) -> None:
        self.env = env
        self.log = env.root / f"{name}.log"
        command = launcher or [sys.executable, "-m", "cli.main"]
        self.command = [*command, "worker", "--pool", "threads", "--concurrency", "2", "--loglevel", "INFO", *args]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(self.command, cwd=REPO, env=self.env.environ(), stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def wait_ready(self, timeout_s: float = WORKER_READY_S) -> WorkerProcess:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if b" ready." in self.log.read_bytes():
                return self
            if not self.alive:
                raise AssertionError(f"worker exited ({self.returncode}) before ready:\n{self.output()}")
            time.sleep(0.2)
        raise AssertionError(f"worker not ready after {timeout_s} s:\n{self.output()}")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill9(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        assert self.process is not None
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """Warm shutdown (SIGTERM: running tasks finish), then SIGKILL if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


def ragqa(env: WorkerEnv, *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    """Runs the real `ragqa` command with the test's settings."""
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=REPO, env=env.environ(),
                          capture_output=True, text=True, timeout=timeout_s, check=False)


def enqueue(env: WorkerEnv, folder: Path, *args: str) -> str:
    """`ragqa ingest --queue --json`: the job id of the new job."""
    result = ragqa(env, "ingest", str(folder), "--queue", "--json", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    job_id: str = json.loads(result.stdout)["job_id"]
    return job_id


def wait_job(store: JobStore, job_id: str, timeout_s: float, on_poll: Callable[[Job], Any] | None = None,
             worker: WorkerProcess | None = None) -> Job:
    """Until the job is over; fails after ``timeout_s``, or at once when ``worker`` has exited, with its log."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = store.get(job_id)
        if on_poll:
            on_poll(job)
        if job.state not in ("queued", "running"):
            return job
        if worker is not None:
            assert_running(worker, f"job {job_id} not over: {job.counts()}")
        time.sleep(0.25)
    tail = f"\nworker log:\n{worker.output()}" if worker else ""
    raise AssertionError(f"job {job_id} not over after {timeout_s} s: {store.get(job_id).counts()}{tail}")


def wait_done(store: JobStore, job_id: str, count: int, worker: WorkerProcess, timeout_s: float = 120) -> Job:
    """Waits until ``count`` documents of the job are done (to act mid-job); returns the job then."""
    deadline = time.monotonic() + timeout_s
    while (job := store.get(job_id)).counts()["done"] < count:
        assert time.monotonic() < deadline, worker.output()
        assert_running(worker, f"{job.counts()['done']} of {count} documents done")
        time.sleep(0.05)
    return job


def assert_running(worker: WorkerProcess, waiting_for: str) -> None:
    """A worker that exited will not finish the job: fail now with its log, not at the deadline."""
    if not worker.alive:
        raise AssertionError(f"worker exited ({worker.returncode}); {waiting_for}\nworker log:\n{worker.output()}")


def small_documents(corpus_dir: Path, folder: Path, count: int, chars: int = 1500) -> list[Path]:
    """``count`` short real documents (1-2 chunks each): slices of the cmu-qa-dev articles."""
    folder.mkdir(parents=True, exist_ok=True)
    articles = sorted(corpus_dir.rglob("*.txt"))
    paths = []
    for i in range(count):
        text = articles[i % len(articles)].read_text(errors="replace")
        start = (i // len(articles)) * chars
        piece = text[start:start + chars].strip() or text[:chars]
        path = folder / f"doc-{i:03d}.txt"
        path.write_text(f"Document {i}.\n\n{piece}\n")
        paths.append(path)
    return paths
