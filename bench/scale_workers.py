"""Ingest throughput with 1, 2 and 4 Celery worker processes on this machine, and the rate per core
that sizes a deployment; the in-process pipeline (`ragqa ingest`) on the same documents is the yardstick.

    .venv/bin/python -m bench.scale_workers [--workers 1,2,4] [--docs 40] [--redis-url redis://127.0.0.1:6379/0]

Each run starts N real `ragqa worker` processes (threads pool, one task at a time each), waits until
every one is ready (models loaded: not timed), submits one job of one task per document to their
shared queue (the shared Redis, under a key prefix of the run's own) and times it to its end, with
the CPU seconds the workers (and their parsing sandboxes) spent on it: chunks per CPU-second is what
a core does when it is a worker's, which the wall clock of this shared machine understates. Each
process embeds with ``cores / N`` threads (at least 1): a deployment gives its workers the host's
cores, not more. The embedded store admits one process and no Qdrant server runs here, so each
worker writes a store of its own: the work per document (parse, chunk, embed, write) is a real
ingest's, and the broker shares the documents out as it would; a Qdrant server would take the
writes over the network instead (the write stage is a small share, ``bench.ingest``). The machine
is shared: the load average before and after each run is in the results.
Results: bench/results/scale_workers.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import redis
from rich.console import Console
from rich.table import Table

from bench.common import ROOT, write_results
from bench.workers import DEFAULT_CORPUS, settings_from, worker_env
from bootstrap.components import Components
from core.logging import configure_logging
from core.settings import Settings
from ingest.sources import SourceDocument, iter_sources
from jobs.spec import JobFile, JobSpec, new_job_id
from jobs.store import JobStore
from retrieval.edge_index import EdgeIndex
from state.endpoint import RedisEndpoint
from workers.app import create_celery_app
from workers.runner import CeleryJobRunner

READY_S = 300.0


def tree_cpu_s(processes: list[psutil.Process]) -> float:
    """CPU seconds (user + system) of ``processes`` and their children (the parsing sandboxes) so far."""
    total = 0.0
    for process in processes:
        for member in (process, *process.children(recursive=True)):
            try:
                times = member.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
    return total


def in_process(sources: list[SourceDocument], store: Path) -> dict[str, Any]:
    """The yardstick: the pipeline `ragqa ingest` runs, in this process (model loaded before the clock)."""
    settings = Settings(_env_file=None, qdrant={"path": store})  # type: ignore[call-arg,arg-type]
    with Components(settings) as parts:
        pipeline = parts.pipeline
        pipeline.warm()
        parts.embedder.embed_documents(["warm up"])
        me = [psutil.Process()]
        cpu, started = tree_cpu_s(me), time.perf_counter()
        report = pipeline.ingest(sources, "docs")
        seconds, cpu_s = time.perf_counter() - started, tree_cpu_s(me) - cpu
    assert report.counts()["added"] == len(sources), report.to_dict()
    return {"seconds": round(seconds, 2), "cpu_s": round(cpu_s, 2), "chunks": report.chunks_written}


def start_workers(n: int, root: Path, redis_url: str, prefix: str,
                  threads: int) -> list[tuple[subprocess.Popen[bytes], Path]]:
    workers = []
    for i in range(n):
        env = {**os.environ, **worker_env(root / f"store{i}", redis_url, prefix), "HF_HUB_OFFLINE": "1",
               "RAGQA_EMBEDDING__THREADS": str(threads)}
        log = root / f"worker{i}.log"
        with log.open("wb") as out:
            process = subprocess.Popen([sys.executable, "-m", "cli.main", "worker", "--pool", "threads",
                                        "--concurrency", "1"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        workers.append((process, log))
    deadline = time.monotonic() + READY_S
    for process, log in workers:
        while b" ready." not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"a worker did not start: {log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
    return workers


def run(n: int, sources: list[SourceDocument], root: Path, redis_url: str, cores: int) -> dict[str, Any]:
    """One job of every document through ``n`` worker processes: seconds, documents per worker."""
    prefix = f"ragqa-bench-scale-{uuid.uuid4().hex[:8]}:"
    threads = max(1, cores // n)
    settings = settings_from(worker_env(root / "unused", redis_url, prefix))
    load_before = os.getloadavg()
    workers = start_workers(n, root, redis_url, prefix, threads)
    try:
        store = JobStore(redis.Redis.from_url(redis_url), prefix)
        runner = CeleryJobRunner(create_celery_app(settings, RedisEndpoint(settings.redis)), f"{prefix}q", store)
        files = tuple(JobFile(s.doc_id, s.name, s.path, {}, s.source) for s in sources if s.path is not None)
        job_id = new_job_id()
        processes = [psutil.Process(process.pid) for process, _ in workers]
        cpu, started = tree_cpu_s(processes), time.perf_counter()
        runner.submit(JobSpec(job_id, "docs", files, owns_files=False))
        while store.get(job_id).state in ("queued", "running"):
            time.sleep(0.05)
        seconds, cpu_s = time.perf_counter() - started, tree_cpu_s(processes) - cpu
        job = store.get(job_id)
        runner.close()
        assert job.state == "done" and job.counts()["failed"] == 0, job.to_dict()
    finally:
        for process, _ in workers:
            process.terminate()
        for process, _ in workers:
            process.wait(timeout=120)
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    per_worker = []
    for i in range(n):
        index = EdgeIndex(root / f"store{i}", optimize_on_close=False)
        try:
            per_worker.append(index.stats("docs").documents if index.collection_exists("docs") else 0)
        finally:
            index.close()
    return {"workers": n, "embedding_threads_each": threads, "seconds": round(seconds, 2), "cpu_s": round(cpu_s, 2),
            "documents": len(files), "chunks": job.chunks_written, "documents_per_worker": per_worker,
            "load_avg_before": load_before, "load_avg_after": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--docs", type=int, default=40, help="How many .txt articles.")
    parser.add_argument("--workers", default="1,2,4", help="Worker process counts, one run each.")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    configure_logging("WARNING")
    cores = os.cpu_count() or 1
    sources = list(iter_sources([args.corpus], "*.txt"))[: args.docs]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ragqa-bench-scale-workers-") as tmp:
        load_before = os.getloadavg()
        yardstick = in_process(sources, Path(tmp) / "cli")
        yardstick.update(docs_per_s=round(len(sources) / yardstick["seconds"], 3),
                         chunks_per_s=round(yardstick["chunks"] / yardstick["seconds"], 1),
                         chunks_per_cpu_s=round(yardstick["chunks"] / yardstick["cpu_s"], 1),
                         load_avg_before=load_before, load_avg_after=os.getloadavg())
        for n in (int(w) for w in args.workers.split(",")):
            root = Path(tmp) / f"workers{n}"
            root.mkdir()
            row = run(n, sources, root, args.redis_url, cores)
            row["docs_per_s"] = round(row["documents"] / row["seconds"], 3)
            row["chunks_per_s"] = round(row["chunks"] / row["seconds"], 1)
            row["chunks_per_cpu_s"] = round(row["chunks"] / row["cpu_s"], 1)
            row["docs_per_cpu_s"] = round(row["documents"] / row["cpu_s"], 3)
            row["over_in_process"] = round(row["chunks_per_s"] / yardstick["chunks_per_s"], 2)
            row["cpu_over_in_process"] = round(row["chunks_per_cpu_s"] / yardstick["chunks_per_cpu_s"], 2)
            rows.append(row)
            Console().print(row)
    # What sizes a deployment: the run with one worker process per core (else the fastest), its rate per
    # core of this shared machine's wall clock, and per CPU-second (what a core does when it is the worker's).
    chosen = next((r for r in rows if r["workers"] == cores), max(rows, key=lambda r: r["chunks_per_s"]))
    per_core = {"from_workers": chosen["workers"], "cores": cores,
                "wall_docs_per_s": round(chosen["docs_per_s"] / cores, 3),
                "wall_chunks_per_s": round(chosen["chunks_per_s"] / cores, 1),
                "cpu_docs_per_s": chosen["docs_per_cpu_s"], "cpu_chunks_per_s": chosen["chunks_per_cpu_s"],
                "cpu_docs_per_day": round(chosen["docs_per_cpu_s"] * 86400)}
    results = {"inputs": {"documents": len(sources), "corpus": str(args.corpus), "cores": cores,
                          "pool": "threads, concurrency 1, one store per worker"},
               "in_process": yardstick, "runs": rows, "per_core": per_core}
    path = write_results("scale_workers", results)
    table = Table(title=f"{len(sources)} documents, {yardstick['chunks']} chunks, {cores} cores")
    for column in ("", "s", "docs/s", "chunks/s", "chunks/CPU s", "x in-process", "docs per worker", "load"):
        table.add_column(column, justify="right")
    table.add_row("in-process pipeline", str(yardstick["seconds"]), str(yardstick["docs_per_s"]),
                  str(yardstick["chunks_per_s"]), str(yardstick["chunks_per_cpu_s"]), "1.00", "",
                  f"{load_before[0]:.1f} -> {yardstick['load_avg_after'][0]:.1f}")
    for r in rows:
        table.add_row(f"{r['workers']} worker process(es), {r['embedding_threads_each']} thread(s) each",
                      str(r["seconds"]), str(r["docs_per_s"]), str(r["chunks_per_s"]), str(r["chunks_per_cpu_s"]),
                      f"{r['over_in_process']:.2f}",
                      str(r["documents_per_worker"]), f"{r['load_avg_before'][0]:.1f} -> {r['load_avg_after'][0]:.1f}")
    console = Console()
    console.print(table)
    console.print(f"per core: {per_core} -> {path}")


if __name__ == "__main__":
    main()
