"""The yardsticks bench/ingest.py runs beside the pipeline: raw embedders and LlamaIndex's own pipeline.

Each returns a ``Rate``: chunks per wall second and per CPU second of this process (the second
is much less disturbed by other load on a shared machine).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.settings import Settings
from ingest.parsing import parse_bytes
from ingest.sources import SourceDocument


@dataclass(frozen=True, slots=True)
class Rate:
    chunks: int
    seconds: float
    cpu_seconds: float

    @property
    def per_s(self) -> float:
        return self.chunks / self.seconds

    @property
    def per_cpu_s(self) -> float:
        return self.chunks / self.cpu_seconds

    def as_json(self) -> dict[str, float]:
        return {"chunks": self.chunks, "seconds": round(self.seconds, 2),
                "chunks_per_s": round(self.per_s, 2), "chunks_per_cpu_s": round(self.per_cpu_s, 2)}


def timed(chunks: int, run: Callable[[], object]) -> Rate:
    started, cpu = time.perf_counter(), time.process_time()
    run()
    return Rate(chunks, time.perf_counter() - started, time.process_time() - cpu)


def raw_rate(embed: Callable[[list[str]], object], texts: Sequence[str], step: int) -> Rate:
    """An embedder alone on ``texts``, handed ``step`` texts a call, as the pipeline hands them."""

    def run() -> None:
        for i in range(0, len(texts), step):
            embed(list(texts[i:i + step]))

    return timed(len(texts), run)


def fp32_sentence_transformers(model_path: Path, batch_size: int) -> Callable[[list[str]], object]:
    """sentence-transformers' own ``encode`` on the fp32 model: what a user would call directly."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)

    def embed(texts: list[str]) -> object:
        return model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                            show_progress_bar=False)

    return embed


def llamaindex_pipeline(sources: Sequence[SourceDocument], settings: Settings, model_path: Path,
                        tokenize: Callable[[str], Sequence[int]]) -> Rate:
    """LlamaIndex's ``IngestionPipeline`` as a user would build it for the same job: the same
    documents (parsed by the same parser, title as metadata), a ``SentenceSplitter`` of the same
    size and overlap counted in the same model's tokens, the same model through
    ``HuggingFaceEmbedding`` in batches of the same size, and a Qdrant vector store. The store is
    qdrant-client's local mode in memory: the fastest Qdrant it can reach without a server (on disk,
    local mode's upserts are several times slower), so the yardstick errs in LlamaIndex's favour.
    Model loading is outside the timing, as for the pipeline."""
    from llama_index.core import Document as LlamaDocument
    from llama_index.core.ingestion import IngestionPipeline
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    embedding = HuggingFaceEmbedding(model_name=str(model_path), device="cpu",
                                     embed_batch_size=settings.embedding.batch_size)
    client = QdrantClient(location=":memory:")
    store = QdrantVectorStore(client=client, collection_name="bench")
    splitter = SentenceSplitter(chunk_size=settings.chunking.chunk_size,
                                chunk_overlap=settings.chunking.chunk_overlap,
                                tokenizer=lambda text: list(tokenize(text)))
    pipeline = IngestionPipeline(transformations=[splitter, embedding], vector_store=store)
    nodes: list[Any] = []

    def run() -> None:
        documents = []
        for source in sources:
            parsed = parse_bytes(source.read(settings.ingest.max_file_bytes), source.name)
            documents.append(LlamaDocument(text=parsed.text, id_=source.doc_id,
                                           metadata={"title": parsed.title or Path(source.name).stem}))
        nodes.extend(pipeline.run(documents=documents))

    started, cpu = time.perf_counter(), time.process_time()
    run()
    rate = Rate(len(nodes), time.perf_counter() - started, time.process_time() - cpu)
    client.close()
    return rate
