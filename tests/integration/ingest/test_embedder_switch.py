"""Switching the embedding backend: a collection written by one embedder refuses the other."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import CollectionMismatch
from core.settings import EmbeddingSettings, Settings
from ingest.embedders import embedder_from_settings
from ingest.pipeline import IngestPipeline
from ingest.sources import SourceDocument
from retrieval.backends import open_index
from retrieval.embedder_guard import check_query_embedder
from retrieval.sparse import Bm25SparseEncoder


def article(corpus_dir: Path, name: str) -> SourceDocument:
    return SourceDocument(name, name, f"mem://{name}", data=(corpus_dir / "set1" / name).read_bytes())


@pytest.mark.parametrize("engine", ["edge", "local"])
def test_ingest_and_query_refuse_a_collection_of_the_other_backend(
    engine: str, corpus_dir: Path, tmp_path: Path
) -> None:
    settings = Settings(qdrant={"path": tmp_path / "store", "backend": engine}, ingest={"parse_isolation": False})
    int8 = embedder_from_settings(EmbeddingSettings())
    fp32 = embedder_from_settings(EmbeddingSettings(backend="sentence-transformers"))
    index = open_index(settings.qdrant)
    try:
        pipeline = IngestPipeline(int8, Bm25SparseEncoder(), index, settings)
        assert pipeline.ingest([article(corpus_dir, "a1.txt")], "docs").counts()["added"] == 1
        assert index.collection_embedder("docs") == int8.identity
        check_query_embedder(index, "docs", int8)

        other = IngestPipeline(fp32, Bm25SparseEncoder(), index, settings)
        with pytest.raises(CollectionMismatch, match="RAGQA_EMBEDDING__BACKEND=onnx-int8"):
            other.ingest([article(corpus_dir, "a2.txt")], "docs")
        with pytest.raises(CollectionMismatch, match=fp32.identity):
            check_query_embedder(index, "docs", fp32)
        chunks = index.count("docs")

        # Another collection is the way out, and the refused document wrote nothing.
        assert other.ingest([article(corpus_dir, "a2.txt")], "docs-fp32").counts()["added"] == 1
        assert index.collection_embedder("docs-fp32") == fp32.identity
        assert index.count("docs") == chunks
    finally:
        index.close()
