"""Traces and metrics of a real `ragqa worker` (a prefork pool: its one child ingests, its main process
serves the metrics): an upload's trace runs from the API's route through the Celery message to the
child's parse, chunk, embed and write spans (written by the worker's ``file`` exporter); a scrape of the
worker's metrics counts what the child did (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from bootstrap.components import Components
from core.settings import QdrantSettings
from core.tracing_settings import TracingSettings
from jobs.spec import JobFile, JobSpec, new_job_id
from retrieval.backends import open_index
from state.endpoint import RedisEndpoint
from tests.support.environment import require
from tests.support.services import SHARED_REDIS, delete_prefix, free_port, redis_reachable
from tests.support.tracing import FileSpan, captured_spans, hex_id, wait_for_spans
from tests.support.workers import COLLECTION, WorkerEnv, WorkerProcess, small_documents, wait_job
from workers.app import INGEST_DOCUMENT, create_celery_app
from workers.metrics import ServedMetrics, serve_worker_metrics
from workers.runner import CeleryJobRunner

STAGES = ("ingest.parse", "ingest.chunk", "ingest.embed", "ingest.write")


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WorkerEnv, WorkerProcess, int]]:
    """One prefork worker (one child: the embedded store admits one process) exporting spans to a file and
    serving metrics; the environment, the worker and its metrics port."""
    require(redis_reachable(SHARED_REDIS), f"a Redis server at {SHARED_REDIS}")
    root = tmp_path_factory.mktemp("observed")
    port = free_port()
    env = WorkerEnv(root, SHARED_REDIS, f"ragqa-wtest-{uuid.uuid4().hex[:10]}:", {
        "RAGQA_TRACING__EXPORTER": "file", "RAGQA_TRACING__FILE_PATH": str(root / "traces.jsonl"),
        "RAGQA_WORKERS__METRICS_PORT": str(port)})
    worker = WorkerProcess(env, "observed-worker", None, "--pool", "prefork", "--concurrency", "1")
    try:
        yield env, worker.start().wait_ready(), port
    finally:
        worker.stop()
        delete_prefix(SHARED_REDIS, env.prefix)


def api_parts(env: WorkerEnv, tmp_path: Path, embedder: Any) -> tuple[Any, Components]:
    """The API as deployed beside workers: uploads go to Celery (`workers.runner=celery`, which asks for a
    Qdrant server). There is none here, so the URL is never contacted: the API reads a store of its own."""
    base = env.settings()
    settings = base.model_copy(update={
        "qdrant": QdrantSettings(url="http://127.0.0.1:9"),
        "workers": base.workers.model_copy(update={"runner": "celery"}),
        "api": base.api.model_copy(update={"upload_dir": tmp_path / "uploads", "rate_limit_per_minute": 0}),
        "tracing": TracingSettings(exporter="console"),  # on; the test's in-memory provider is the one installed
    })
    parts = Components(settings)
    parts.__dict__["embedder"] = embedder
    parts.__dict__["index"] = open_index(QdrantSettings(path=tmp_path / "api-store"))
    return settings, parts


def test_one_trace_links_an_upload_to_its_workers_parse_embed_and_write(
        observed: tuple[WorkerEnv, WorkerProcess, int], embedder: Any, corpus_dir: Path, tmp_path: Path) -> None:
    env, worker, _ = observed
    document = small_documents(corpus_dir, tmp_path / "docs", 1)[0]
    settings, parts = api_parts(env, tmp_path, embedder)
    try:
        with captured_spans() as exporter:
            with TestClient(create_app(settings, parts)) as client:
                upload = {"files": ("otters.txt", document.read_bytes(), "text/plain")}
                response = client.post("/documents", files=upload)
                assert response.status_code == 202, response.text
                job = wait_job(env.store(), response.json()["job_id"], 120, worker=worker)
            local = {s.name: s for s in exporter.get_finished_spans()}
    finally:
        parts.close()
    assert job.state == "done", job.to_dict()

    route, publish = local["POST /documents"], local[f"{INGEST_DOCUMENT} publish"]
    assert route.parent is None and publish.parent is not None and publish.parent.span_id == route.context.span_id
    assert publish.kind == SpanKind.PRODUCER and publish.attributes is not None
    assert publish.attributes["ragqa.doc_id"] == "otters.txt"
    trace_id = hex_id(route.context.trace_id, 32)

    def arrived(spans: list[FileSpan]) -> bool:
        return {INGEST_DOCUMENT, *STAGES} <= {s.name for s in spans if s.trace_id == trace_id}

    remote = {s.name: s for s in wait_for_spans(env.root / "traces.jsonl", arrived) if s.trace_id == trace_id}
    assert set(remote) == {INGEST_DOCUMENT, *STAGES}, f"{sorted(remote)}\n{worker.output()}"
    task = remote[INGEST_DOCUMENT]
    assert task.parent_id == hex_id(publish.context.span_id) and task.raw["kind"] == "SpanKind.CONSUMER"
    assert task.service == "ragqa-worker" and task.attributes["ragqa.outcome"] == "done"
    assert task.attributes["ragqa.job_id"] == job.job_id
    for name in STAGES:  # the embedding runs on the pipeline's own thread, and still joins the trace
        assert remote[name].parent_id == task.span_id, name
    assert remote["ingest.write"].attributes["ragqa.chunks"] == job.chunks_written > 0
    assert remote["ingest.embed"].attributes["ragqa.chunks"] == job.chunks_written


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_a_prefork_workers_metrics_count_what_its_child_ingested(
        observed: tuple[WorkerEnv, WorkerProcess, int], corpus_dir: Path, tmp_path: Path) -> None:
    env, worker, port = observed
    good = small_documents(corpus_dir, tmp_path / "docs", 2)
    broken = tmp_path / "docs" / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7 not really a PDF")
    before = scrape(port)
    settings = env.settings()
    runner = CeleryJobRunner(create_celery_app(settings, RedisEndpoint(settings.redis)), env.queue, env.store())
    job_id = new_job_id()
    runner.submit(JobSpec(job_id, COLLECTION, tuple(JobFile(p.name, p.name, p) for p in [*good, broken])))
    runner.close()
    job = wait_job(env.store(), job_id, 120, worker=worker)
    after = scrape(port)
    assert job.counts()["done"] == 2 and job.counts()["failed"] == 1, job.to_dict()

    def moved(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert moved("ragqa_ingest_documents_total", status="added") == 2
    assert moved("ragqa_ingest_documents_total", status="failed") == 1
    failures = sum(after[k] - before.get(k, 0.0) for k in after if k[0] == "ragqa_ingest_failures_total")
    assert failures == 1
    assert moved("ragqa_ingest_chunks_written_total") == job.chunks_written > 0
    assert moved("ragqa_ingest_stage_duration_seconds_count", stage="parse") == 3  # the broken file too
    for stage in ("chunk", "write"):
        assert moved("ragqa_ingest_stage_duration_seconds_count", stage=stage) == 2, stage
    assert moved("ragqa_ingest_stage_duration_seconds_count", stage="embed") >= 1
    assert moved("ragqa_ingest_stage_duration_seconds_sum", stage="embed") > 0


def test_a_threads_workers_metrics_are_one_registry_with_its_process(tmp_path: Path) -> None:
    """Threads and solo pools run their tasks in the serving process: a plain registry, process metrics too."""
    from core.worker_settings import WorkerSettings

    served: ServedMetrics | None = serve_worker_metrics(WorkerSettings(metrics_port=free_port()), "threads")
    assert served is not None and served.folder is None
    try:
        served.metrics.document_done("added", chunks=5)
        served.metrics.document_done("failed", error_code="parse_error")
        served.metrics.stage_done("embed", 0.2)
        samples = scrape(served.port)
    finally:
        served.close()
    assert samples[("ragqa_ingest_documents_total", (("status", "added"),))] == 1
    assert samples[("ragqa_ingest_failures_total", (("code", "parse_error"),))] == 1
    assert samples[("ragqa_ingest_chunks_written_total", ())] == 5
    assert samples[("ragqa_ingest_stage_duration_seconds_count", (("stage", "embed"),))] == 1
    assert samples[("ragqa_ingest_documents_total", (("status", "unchanged"),))] == 0  # every series, from 0
    assert ("process_resident_memory_bytes", ()) in samples
    assert serve_worker_metrics(WorkerSettings(metrics_port=0), "threads") is None
