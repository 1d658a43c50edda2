"""Prometheus metrics of one app instance (its own registry, so several apps in a process don't clash).

    >>> metrics = Metrics()
    >>> metrics.cache.labels(kind="exact", result="hit").inc()
    >>> b"ragqa_cache_requests_total" in metrics.render()
    True
"""

from __future__ import annotations

from prometheus_client import (
    GC_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from core.types import Answer

# Sub-millisecond cache hits up to multi-second generations.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """Every metric the API exports at ``GET /metrics``.

    Example::

        metrics.observe_answer(answer)           # stage latencies, refusals, tokens, guardrail events
        metrics.cache.labels(kind="exact", result="miss").inc()
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        # The process itself: memory, CPU time, open files, start time; Python's version and GC.
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        r.register(GC_COLLECTOR)
        self.http_latency = Histogram(
            "ragqa_http_request_duration_seconds", "HTTP request latency per route.",
            ["route", "method", "status"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.stage_latency = Histogram(
            "ragqa_answer_stage_duration_seconds",
            "Latency of each answer stage (input_guard, retrieve, generate, ...).",
            ["stage"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.cache = Counter(
            "ragqa_cache_requests_total", "Answer cache lookups by kind (exact, semantic) and result "
            "(hit, miss, error, bypass).", ["kind", "result"], registry=r,
        )  # fmt: skip
        self.cache_evictions = Counter(
            "ragqa_cache_evictions_total", "Cached answers evicted, by reason: a document they cited was deleted "
            "(document_deleted), or the answer was down-voted (down_vote).", ["reason"], registry=r,
        )  # fmt: skip
        for reason in ("document_deleted", "down_vote"):  # both series from the start, at 0
            self.cache_evictions.labels(reason=reason)
        self.answers = Counter("ragqa_answers_total", "Answers served, by outcome.", ["outcome"], registry=r)
        self.refusals = Counter("ragqa_refusals_total", "Answers that refused (the documents don't say).",
                                registry=r)  # fmt: skip
        self.guardrail_blocks = Counter(
            "ragqa_guardrail_blocks_total", "Questions rejected by a guardrail.", registry=r
        )
        self.guardrail_events = Counter(
            "ragqa_guardrail_events_total", "Guardrail events in answers, by kind.", ["kind"], registry=r
        )
        # Exported at 0 from the start: an alert on its rate needs the series before the first removal.
        self.guardrail_events.labels(kind="output_unsourced_link")
        self.llm_tokens = Counter("ragqa_llm_tokens_total", "LLM tokens, by type (prompt, completion).",
                                  ["type"], registry=r)  # fmt: skip
        self.jobs = Counter("ragqa_ingest_jobs_total", "Ingestion jobs by final state.", ["state"], registry=r)
        self.job_documents = Counter(
            "ragqa_ingest_documents_total", "Documents processed by ingestion jobs, by status.", ["status"],
            registry=r,
        )  # fmt: skip
        self.redis_errors = Counter(
            "ragqa_redis_errors_total", "Redis calls that failed or were skipped by the open circuit breaker.",
            ["op", "reason"], registry=r,
        )  # fmt: skip
        self.redis_breaker_open = Gauge(
            "ragqa_redis_circuit_open", "1 while the Redis circuit breaker is open.", registry=r
        )
        self.rate_limited = Counter("ragqa_rate_limited_total", "Requests answered 429.", registry=r)
        self.grounded = Histogram(
            "ragqa_answer_grounded_ratio", "Share of an answer's sentences that a source sentence supports, by "
            "answer mode.", ["mode"], buckets=(0.0, 0.25, 0.5, 0.75, 0.9, 1.0), registry=r,
        )  # fmt: skip
        self.answer_modes = Counter(
            "ragqa_answer_modes_total", "Answers by how they were made (extractive, generative, refusal, sources) "
            "and why a generation was replaced (degraded: none, ungrounded_generation, llm_timeout, ...).",
            ["mode", "degraded"], registry=r,
        )  # fmt: skip
        # Cost (state.usage keeps the same per day in Redis). `key`: an API key's name, else the caller's kind
        # (user, widget, open): one series per key, never one per end user.
        self.usage_answers = Counter(
            "ragqa_usage_answers_total", "Answers served, by API key, collection and whether from the cache.",
            ["key", "collection", "cached"], registry=r,
        )  # fmt: skip
        self.usage_tokens = Counter(
            "ragqa_usage_tokens_total", "LLM tokens spent on answers, by API key, collection and type (prompt, "
            "completion).", ["key", "collection", "type"], registry=r,
        )  # fmt: skip
        self.usage_model_seconds = Counter(
            "ragqa_usage_model_seconds_total", "Time spent making fresh answers (extractive ones too; cache hits "
            "cost none), by API key and collection.", ["key", "collection"], registry=r,
        )  # fmt: skip
        self.quota_exceeded = Counter("ragqa_quota_exceeded_total", "Requests refused for a key's daily token "
                                      "quota (429 quota_exceeded).", registry=r)  # fmt: skip
        self.answer_events = Counter(
            "ragqa_answer_events_total", "What readers did with answers (POST /events): citation_open, copy.",
            ["kind"], registry=r,
        )  # fmt: skip
        self.experiment_answers = Counter(
            "ragqa_experiment_answers_total", "Answers served in an experiment, by experiment and arm.",
            ["experiment", "arm"], registry=r,
        )  # fmt: skip

    def observe_answer(self, answer: Answer) -> None:
        for stage, ms in answer.timings_ms.items():
            self.stage_latency.labels(stage=stage).observe(ms / 1000)
        outcome = "refused" if answer.refused else "degraded" if answer.degraded else "answered"
        self.answers.labels(outcome=outcome).inc()
        if answer.refused:
            self.refusals.inc()
        for event in answer.guardrail_events:
            self.guardrail_events.labels(kind=event.kind).inc()
        self.answer_modes.labels(mode=answer.mode, degraded=answer.degraded or "none").inc()
        if answer.grounded is not None:
            self.grounded.labels(mode=answer.mode).observe(answer.grounded)
        self.llm_tokens.labels(type="prompt").inc(answer.usage.prompt_tokens)
        self.llm_tokens.labels(type="completion").inc(answer.usage.completion_tokens)

    def render(self) -> bytes:
        return generate_latest(self.registry)
