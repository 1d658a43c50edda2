"""Worker throughput: a `ragqa worker` (threads pool, 2 threads) against the in-process CLI pipeline.

    .venv/bin/python -m bench.workers [--docs 40] [--redis-url redis://127.0.0.1:6379/0]

Both ingest the same cmu-qa-dev articles into fresh embedded stores. The yardstick is the
in-process pipeline (what `ragqa ingest` runs) in this process; the workload is one job of one
task per document through Redis to a real worker process (model loading excluded from both).
Then each ingests the same documents again: every one is unchanged, so the time is parsing,
hashing and, for the worker, the per-task overhead (broker round trip, job-store writes);
the difference per document is the task overhead. Results: bench/results/workers.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import redis
from rich.console import Console
from rich.table import Table

from bench.common import ROOT, write_results
from bootstrap.components import Components
from core.logging import configure_logging
from core.settings import Settings
from ingest.sources import SourceDocument, iter_sources
from jobs.spec import JobFile, JobSpec, new_job_id
from jobs.store import JobStore
from state.endpoint import RedisEndpoint
from workers.app import create_celery_app
from workers.runner import CeleryJobRunner

DEFAULT_CORPUS = ROOT.parent / "shared" / "data" / "cmu-qa-dev" / "articles"


def worker_env(store_path: Path, redis_url: str, prefix: str) -> dict[str, str]:
    return {
        "RAGQA_QDRANT__PATH": str(store_path), "RAGQA_REDIS__URL": redis_url, "RAGQA_REDIS__KEY_PREFIX": prefix,
        "RAGQA_WORKERS__BROKER_KEY_PREFIX": f"{prefix}broker:", "RAGQA_WORKERS__INTERACTIVE_QUEUE": f"{prefix}q",
        "RAGQA_WORKERS__QUEUES": json.dumps([f"{prefix}q"]), "RAGQA_LOG_LEVEL": "WARNING",
    }  # fmt: skip


def settings_from(env: dict[str, str]) -> Settings:
    saved = dict(os.environ)
    try:
        os.environ.update(env)
        return Settings(_env_file=None)  # type: ignore[call-arg]
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_in_process(sources: list[SourceDocument], store_path: Path) -> dict[str, float]:
    settings = Settings(_env_file=None, qdrant={"path": store_path})  # type: ignore[call-arg,arg-type]
    with Components(settings) as parts:
        pipeline = parts.pipeline  # the model loads here, outside the timing
        started = time.perf_counter()
        report = pipeline.ingest(sources, "docs")
        first = time.perf_counter() - started
        started = time.perf_counter()
        again = pipeline.ingest(sources, "docs")
        second = time.perf_counter() - started
    assert report.counts()["added"] == len(sources) and again.counts()["unchanged"] == len(sources)
    return {"seconds": first, "chunks": report.chunks_written, "unchanged_seconds": second}


def run_job(settings: Settings, store: JobStore, runner: CeleryJobRunner, sources: list[SourceDocument]) -> float:
    files = tuple(JobFile(s.doc_id, s.name, s.path, {}, s.source) for s in sources if s.path is not None)
    started = time.perf_counter()
    job_id = new_job_id()
    runner.submit(JobSpec(job_id, "docs", files, owns_files=False))
    while store.get(job_id).state in ("queued", "running"):
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    job = store.get(job_id)
    assert job.state == "done" and job.counts()["failed"] == 0, job.to_dict()
    return seconds


def run_worker(sources: list[SourceDocument], store_path: Path, redis_url: str, threads: int) -> dict[str, Any]:
    prefix = f"ragqa-bench-{uuid.uuid4().hex[:8]}:"
    env = worker_env(store_path, redis_url, prefix)
    settings = settings_from(env)
    log = store_path.parent / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "worker", "--pool", "threads", "--concurrency", str(threads)],
            cwd=ROOT, env={**os.environ, **env, "HF_HUB_OFFLINE": "1"}, stdout=out, stderr=subprocess.STDOUT)
    try:
        while b" ready." not in log.read_bytes():
            if process.poll() is not None:
                raise SystemExit(f"worker exited: {log.read_text()[-3000:]}")
            time.sleep(0.2)
        client = redis.Redis.from_url(redis_url)
        store = JobStore(client, prefix)
        runner = CeleryJobRunner(create_celery_app(settings, RedisEndpoint(settings.redis)), f"{prefix}q", store)
        first = run_job(settings, store, runner, sources)
        second = run_job(settings, store, runner, sources)
    finally:
        process.terminate()
        process.wait(timeout=60)
        keys = list(redis.Redis.from_url(redis_url).scan_iter(match=f"{prefix}*"))
        if keys:
            redis.Redis.from_url(redis_url).delete(*keys)
    return {"seconds": first, "unchanged_seconds": second}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--docs", type=int, default=40, help="How many .txt articles.")
    parser.add_argument("--threads", type=int, default=2, help="Worker threads.")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    configure_logging("WARNING")
    sources = list(iter_sources([args.corpus], "*.txt"))[: args.docs]
    with tempfile.TemporaryDirectory(prefix="ragqa-bench-workers-") as tmp:
        cli = run_in_process(sources, Path(tmp) / "cli")
        worker = run_worker(sources, Path(tmp) / "worker", args.redis_url, args.threads)
    n, chunks = len(sources), int(cli["chunks"])
    overhead_ms = (worker["unchanged_seconds"] - cli["unchanged_seconds"]) / n * 1000
    result = {
        "inputs": {"documents": n, "chunks": chunks, "worker_threads": args.threads, "corpus": str(args.corpus)},
        "in_process": {**cli, "chunks_per_s": chunks / cli["seconds"], "docs_per_s": n / cli["seconds"]},
        "worker": {**worker, "chunks_per_s": chunks / worker["seconds"], "docs_per_s": n / worker["seconds"]},
        "throughput_ratio": cli["seconds"] / worker["seconds"],
        "task_overhead_ms_per_document": overhead_ms,
    }
    path = write_results("workers", result)
    table = Table(title=f"{n} documents, {chunks} chunks")
    for column in ("", "ingest s", "chunks/s", "unchanged re-run s"):
        table.add_column(column, justify="right")
    table.add_row("in-process pipeline", f"{cli['seconds']:.1f}", f"{chunks / cli['seconds']:.1f}",
                  f"{cli['unchanged_seconds']:.2f}")
    table.add_row(f"worker ({args.threads} threads)", f"{worker['seconds']:.1f}", f"{chunks / worker['seconds']:.1f}",
                  f"{worker['unchanged_seconds']:.2f}")
    console = Console()
    console.print(table)
    console.print(f"worker / in-process throughput: {result['throughput_ratio']:.2f}x; "
                  f"task overhead {overhead_ms:.1f} ms per document -> {path}")


if __name__ == "__main__":
    main()
