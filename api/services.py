"""Everything the routes use, built once per app start (in the lifespan) from ``Components``.

The heavy parts (the embedding model, the index, the LLM) load here, in worker threads, so
the first request is as fast as the rest and a broken setting fails the start, not a request.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import anyio.to_thread
import httpx
import structlog

from api.answer_signals import AnswerSignals
from api.answers import AnswerService
from api.documents import DocumentService
from api.health import Readiness
from api.jwt_auth import JwtVerifier, looks_like_jwt
from api.metrics import Metrics
from api.reindex import ReindexService
from api.security import Authenticator
from api.uploads import UploadSpool
from bootstrap.components import Components
from core.errors import StoreUnavailable
from core.settings import Settings
from jobs.runner import InProcessJobRunner
from jobs.spec import JobRunner
from jobs.store import JobStore
from state.answer_cache import AnswerCache
from state.api_keys import KeyLookup
from state.audit import AuditLog
from state.experiments import ExperimentBook
from state.feedback import FeedbackStore
from state.guard import CircuitBreaker, GuardedRedis
from state.rate_limit import RateLimiter
from state.semantic_cache import SemanticCache
from state.usage import UsageMeter
from workers.app import create_celery_app
from workers.runner import CeleryJobRunner
from workers.topology import resolve_runner

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class Services:
    """The app's services; ``app.state.services`` while the app runs.

    Example::

        services = await build_services(settings, Components(settings), Metrics())
        payload = await services.answers.ask(Question("Who?", "docs"))
        await services.aclose()
    """

    settings: Settings
    components: Components
    metrics: Metrics
    guarded: GuardedRedis
    cache: AnswerCache
    answers: AnswerService
    documents: DocumentService
    feedback: FeedbackStore
    auth: Authenticator
    limiter: RateLimiter
    readiness: Readiness
    runner: JobRunner
    http: httpx.AsyncClient
    audit: AuditLog
    reindex: ReindexService  # re-indexes run inside the server (``api.reindex``)
    signals: AnswerSignals  # usage and experiments (``signals.usage``, ``signals.experiments``)

    async def aclose(self) -> None:
        await anyio.to_thread.run_sync(self.reindex.close)  # before the index closes
        await self.audit.drain()
        await self.signals.drain()
        await anyio.to_thread.run_sync(self.runner.close)
        await self.http.aclose()
        await self.guarded.client.aclose()
        if self.audit.guarded is not self.guarded:
            await self.audit.guarded.client.aclose()


def _load_parts(parts: Components) -> None:
    """Touch every lazy part so models load now (in a thread), not on the first request."""
    threads = parts.settings.api.torch_threads
    if threads is not None:
        # The onnx-int8 embedder's sessions (queries and documents), or torch's threads (process-wide).
        parts.embedder.set_threads(threads)
        if parts.instruction_encoder is not None:
            parts.instruction_encoder.set_threads(threads)
    _ = parts.index, parts.embedder, parts.sparse, parts.retriever, parts.answerer
    if parts.instruction_vectors is not None:
        parts.instruction_vectors(["warm-up"])  # opens the detector's session now, not in the first request


def _in_process_runner(store: JobStore, parts: Components, metrics: Metrics) -> InProcessJobRunner:
    """The runner of `ragqa serve` without workers; it resumes the jobs a stopped server left open."""
    runner = InProcessJobRunner(
        store, parts.pipeline, parts.settings.workers,
        on_document=lambda outcome: metrics.job_documents.labels(
            status=outcome.result.status if outcome.result else outcome.state or "duplicate").inc(),
        on_job=lambda state: metrics.jobs.labels(state=state).inc(),
    )  # fmt: skip
    try:
        recovered = runner.recover()
    except StoreUnavailable as exc:
        log.warning("jobs.not_recovered", error=exc.message)
    else:
        if recovered:
            log.info("jobs.recovering", jobs=recovered)
    return runner


def answer_threads(settings: Settings) -> int:
    """``api.answer_threads``, else the cores, plus the questions that may wait for an in-process model."""
    if settings.api.answer_threads is not None:
        return settings.api.answer_threads
    cores = os.cpu_count() or 2
    generates = settings.answer.mode in ("generative", "auto") and not settings.llm.base_url
    return cores + (settings.llm.max_waiting + 1 if generates else 0)


async def build_services(settings: Settings, parts: Components, metrics: Metrics) -> Services:
    await anyio.to_thread.run_sync(_load_parts, parts)
    r = settings.redis
    endpoint = await anyio.to_thread.run_sync(lambda: parts.redis)
    await anyio.to_thread.run_sync(lambda: endpoint.url)  # starts an embedded Redis here, off the event loop
    guarded = GuardedRedis(endpoint.async_client(), CircuitBreaker(r.breaker_failures, r.breaker_reset_s), metrics)
    # Keys and the audit trail live with the jobs, in the Redis that evicts nothing (`redis.jobs_url`).
    jobs_endpoint = await anyio.to_thread.run_sync(lambda: parts.jobs_redis)
    durable = guarded if jobs_endpoint is endpoint else GuardedRedis(
        jobs_endpoint.async_client(), CircuitBreaker(r.breaker_failures, r.breaker_reset_s), metrics)
    store = await anyio.to_thread.run_sync(parts.job_store)
    cache = AnswerCache(guarded, parts.index, metrics, prefix=r.key_prefix, ttl_s=r.cache_ttl_s,
                        answer_ttl_s=r.answer_ttl_s, enabled=r.cache_enabled)
    semantic = (SemanticCache(guarded, cache, metrics, prefix=r.key_prefix, threshold=r.semantic_threshold,
                              max_entries=r.semantic_max_entries, ttl_s=r.cache_ttl_s)
                if r.semantic_cache and r.cache_enabled else None)  # fmt: skip
    spool = UploadSpool(settings.api.upload_dir)
    # Usage and experiments live with the keys, in the Redis that evicts nothing.
    experiments = ExperimentBook(durable, r.key_prefix, settings.api.experiments_refresh_s)
    signals = AnswerSignals(metrics, UsageMeter(durable, r.key_prefix, r.usage_ttl_days), experiments)
    runner: JobRunner
    if resolve_runner(settings) == "celery":  # raises on a topology that cannot work (embedded store)
        runner = CeleryJobRunner(create_celery_app(settings, endpoint), settings.workers.interactive_queue, store)
    else:
        runner = await anyio.to_thread.run_sync(lambda: _in_process_runner(store, parts, metrics))
    http = httpx.AsyncClient()
    api = settings.api
    services = Services(
        settings=settings, components=parts, metrics=metrics, guarded=guarded, cache=cache,
        answers=AnswerService(parts.answerer, cache, semantic, parts.embedder, metrics, timeout_s=api.answer_timeout_s,
                              threads=answer_threads(settings), signals=signals),
        documents=DocumentService(parts.index, store, runner, spool, cache, settings,
                                  await anyio.to_thread.run_sync(endpoint.client)),
        feedback=FeedbackStore(guarded, cache, r.key_prefix, experiments),
        auth=Authenticator(api.api_keys_sha256, KeyLookup(durable, r.key_prefix),
                           JwtVerifier.from_settings(settings.auth), api.require_auth, looks_like_jwt),
        limiter=RateLimiter(guarded, metrics, prefix=r.key_prefix, per_minute=api.rate_limit_per_minute,
                            burst=api.rate_limit_burst),
        readiness=Readiness(parts.index, guarded, http, settings,
                            upload_queue=settings.workers.interactive_queue if isinstance(runner, CeleryJobRunner)
                            else None),
        runner=runner, http=http, audit=AuditLog(durable, settings.audit, r.key_prefix),
        reindex=ReindexService(parts.index, parts.embedder, parts.sparse, settings), signals=signals,
    )  # fmt: skip
    log.info("api.ready", redis="embedded" if endpoint.embedded else "server", auth=services.auth.enabled,
             semantic_cache=semantic is not None)
    return services
