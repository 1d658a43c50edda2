"""A small corpus whose right answers are known, and the embedded index backends to load it into.

Dense vectors are hand-made unit vectors (one axis per document topic, a second axis that drifts
further from it with each ordinal), so a query along a topic axis ranks that document's chunks
0, 1, 2. Sparse vectors are the real BM25 encoder over the real sentences. No embedding model.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.types import Chunk, sha256_text
from retrieval.edge_index import EdgeIndex
from retrieval.index import IndexPoint, VectorIndex
from retrieval.qdrant_client_index import QdrantClientIndex
from retrieval.sparse import Bm25SparseEncoder

REPO = Path(__file__).resolve().parents[3]
COLLECTION = "docs"
DIM = 8
PIPELINE = "test-pipeline"
BACKENDS = ("edge", "local")
TOPIC_AXIS = {"animals": 0, "volcanoes": 1, "baking": 2, "rocks": 3}


@dataclass(frozen=True, slots=True)
class Doc:
    doc_id: str
    source: str
    tags: dict[str, str]
    ingested_at: datetime
    sentences: tuple[str, ...]
    page: int | None = None

    @property
    def content_hash(self) -> str:
        return sha256_text("\n".join(self.sentences))


DOCS = {
    "animals": Doc("animals.txt", "/corpus/zoo/animals.txt", {"lang": "en", "topic": "nature"},
                   datetime(2024, 1, 10, tzinfo=UTC), (
                       "Kangaroos hop across the Australian outback at dawn.",
                       "A joey stays in its mother's pouch for several months.",
                       "Koalas sleep most of the day in eucalyptus trees.",
                   )),
    "volcanoes": Doc("volcanoes.txt", "/corpus/geo/volcanoes.txt", {"lang": "en", "topic": "nature"},
                     datetime(2024, 3, 5, tzinfo=UTC), (
                         "Lava from the volcano eruption flowed toward the sea.",
                         "Volcanic ash grounded flights across northern Europe.",
                         "Magma chambers lie several kilometres below the surface.",
                     )),
    "baking": Doc("baking.md", "/corpus/kitchen/baking.md", {"lang": "en", "topic": "food"},
                  datetime(2024, 6, 20, tzinfo=UTC), (
                      "Knead the bread dough until it is smooth and elastic.",
                      "A sourdough starter needs flour, water and patience.",
                      "Bake the loaf in a hot oven until the crust is golden.",
                  )),
    "rocks": Doc("rocks.pdf", "/corpus/geology/rocks.pdf", {"lang": "de", "topic": "nature"},
                 datetime(2024, 9, 1, tzinfo=UTC), (
                     "Granite forms when magma cools slowly underground.",
                     "Sandstone is made of cemented grains of sand.",
                 ), page=4),
}
TOTAL_CHUNKS = sum(len(d.sentences) for d in DOCS.values())
ENCODER = Bm25SparseEncoder()


def topic_vector(topic: str, drift: float = 0.0, drift_axis: int = 4) -> npt.NDArray[np.float32]:
    vec = np.zeros(DIM, dtype=np.float32)
    vec[TOPIC_AXIS[topic]] = 1.0
    vec[drift_axis] = drift
    return (vec / np.linalg.norm(vec)).astype(np.float32)


def chunk_id(doc: Doc, ordinal: int, version: int = 1) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{doc.doc_id}/{ordinal}/v{version}"))


def points_for(topic: str, sentences: tuple[str, ...] | None = None, version: int = 1,
               content_hash: str | None = None) -> list[IndexPoint]:
    """The index points of one document (optionally another version of its text)."""
    doc = DOCS[topic]
    texts = sentences or doc.sentences
    points = []
    offset = 0
    for ordinal, text in enumerate(texts):
        chunk = Chunk(
            chunk_id=chunk_id(doc, ordinal, version), doc_id=doc.doc_id, ordinal=ordinal, text=text,
            start=offset, end=offset + len(text), page=doc.page, title=topic.title(), source=doc.source,
            content_hash=content_hash or doc.content_hash, tags=doc.tags, ingested_at=doc.ingested_at,
        )
        offset += len(text) + 1
        points.append(IndexPoint(chunk, topic_vector(topic, 0.3 * (ordinal + 1), 4 + ordinal),
                                 ENCODER.encode_document(text), chunk_count=len(texts), pipeline=PIPELINE))
    return points


def open_backend(backend: str, path: Path) -> VectorIndex:
    if backend == "edge":
        return EdgeIndex(path, hnsw_ef=64)
    return QdrantClientIndex.for_local(path)


def open_backend_code(backend: str, path: Path) -> str:
    """Python source that opens ``backend`` at ``path`` as ``index``, importing only that backend."""
    if backend == "edge":
        return f"from retrieval.edge_index import EdgeIndex\nindex = EdgeIndex(Path({str(path)!r}))\n"
    return ("from retrieval.qdrant_client_index import QdrantClientIndex\n"
            f"index = QdrantClientIndex.for_local(Path({str(path)!r}))\n")


def load_corpus(index: VectorIndex) -> None:
    index.ensure_collection(COLLECTION, DIM)
    for topic in DOCS:
        index.upsert(COLLECTION, points_for(topic))


def run_python(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a second, real interpreter of this environment, from the repository root."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)

