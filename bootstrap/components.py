"""Builds the service's parts from settings, once per process; used by every composition root."""

from __future__ import annotations

from functools import cached_property
from types import TracebackType

from core.settings import Settings
from generation.answerer import Answerer
from generation.guardrails.instructions import InstructionModel, Vectors
from ingest.embedders import LocalEmbedder, embedder_from_settings
from ingest.onnx_embedding import OnnxEmbedder
from ingest.pipeline import IngestPipeline
from ingest.stages import StageObserver
from jobs.store import JobStore
from retrieval.backends import open_index
from retrieval.index import VectorIndex
from retrieval.rerank import CrossEncoderReranker
from retrieval.search import HybridRetriever
from retrieval.sparse import Bm25SparseEncoder
from state.audit import SyncAuditLog
from state.endpoint import RedisEndpoint


class Components:
    """Lazily built parts; the heavy ones (the embedding model) load only when a command needs them.

    Example::

        with Components(Settings()) as parts:
            parts.pipeline.ingest(sources, "docs")
    """

    def __init__(self, settings: Settings, stage_observer: StageObserver | None = None) -> None:
        self.settings = settings
        self.stage_observer = stage_observer  # hears the pipeline's stage durations (a worker's metrics)

    @cached_property
    def embedder(self) -> LocalEmbedder:
        return embedder_from_settings(self.settings.embedding)

    @cached_property
    def sparse(self) -> Bm25SparseEncoder:
        return Bm25SparseEncoder()

    @cached_property
    def index(self) -> VectorIndex:
        return open_index(self.settings.qdrant)

    @cached_property
    def pipeline(self) -> IngestPipeline:
        return IngestPipeline(self.embedder, self.sparse, self.index, self.settings, observer=self.stage_observer)

    @cached_property
    def reranker(self) -> CrossEncoderReranker | None:
        path = self.settings.retrieval.rerank_model_path
        if path is None:
            return None
        return CrossEncoderReranker(path, self.settings.retrieval.rerank_candidates, self.settings.embedding.device)

    @cached_property
    def retriever(self) -> HybridRetriever:
        return HybridRetriever(self.index, self.embedder, self.sparse, self.settings.retrieval, self.reranker)

    @cached_property
    def instruction_encoder(self) -> OnnxEmbedder | None:
        """The planted-instruction detector's sentence encoder (None when the settings turn it off):
        the first layers of the packaged int8 MiniLM that its weights were fit on, whatever
        backend embeds the documents. The API sets its threads as it sets the embedder's."""
        guards = self.settings.guardrails
        if not guards.detect_instructions or guards.context_action == "off":
            return None
        return OnnxEmbedder.first_layers(InstructionModel.load().layers, threads=self.settings.embedding.threads)

    @cached_property
    def instruction_vectors(self) -> Vectors | None:
        encoder = self.instruction_encoder
        return encoder.embed_documents if encoder is not None else None

    @cached_property
    def answerer(self) -> Answerer:
        return Answerer.from_settings(self.settings, self.retriever, embedder=self.embedder, sparse=self.sparse,
                                      instruction_vectors=self.instruction_vectors)

    @cached_property
    def redis(self) -> RedisEndpoint:
        """Redis for the cache, rate limits, jobs and feedback (embedded when no URL is set)."""
        return RedisEndpoint.from_settings(self.settings.redis)

    @cached_property
    def jobs_redis(self) -> RedisEndpoint:
        """Redis for ingestion job records: ``redis.jobs_url`` when set (a Redis that never evicts)."""
        r = self.settings.redis
        if r.jobs_url is None:
            return self.redis
        return RedisEndpoint.from_settings(r.model_copy(update={"url": r.jobs_url}))

    def job_store(self) -> JobStore:
        r = self.settings.redis
        return JobStore(self.jobs_redis.client(), r.key_prefix, r.job_ttl_s)

    def audit_trail(self) -> SyncAuditLog:
        """The audit trail, where the jobs live (the Redis that evicts nothing), for the CLI."""
        return SyncAuditLog(self.jobs_redis.client(), self.settings.audit, self.settings.redis.key_prefix)

    def close(self) -> None:
        """Closes what was opened; each part even when another fails (an embedded Redis must stop)."""
        try:
            if "pipeline" in self.__dict__:
                self.pipeline.close()  # its parsing process
            if "index" in self.__dict__:
                self.index.close()
        finally:
            try:
                if "jobs_redis" in self.__dict__ and self.jobs_redis is not self.__dict__.get("redis"):
                    self.jobs_redis.close()
            finally:
                if "redis" in self.__dict__:
                    self.redis.close()

    def __enter__(self) -> Components:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
