"""BM25-style sparse vectors from Qdrant Edge's ``Bm25`` encoder (Snowball stemming, stopwords).

Documents get saturated term frequencies; queries get weight 1 per term; the collection's
IDF modifier supplies the inverse document frequency, so the scores are BM25.

    >>> encoder = Bm25SparseEncoder()
    >>> query = encoder.encode_query("The kangaroos are jumping")
    >>> len(query.indices), query.values
    (2, [1.0, 1.0])
    >>> query == encoder.encode_query("kangaroo jumps")  # stemmed, stopwords dropped
    True
"""

from __future__ import annotations

from core.types import SparseVector

# Our chunks run ~150 word tokens after stopword removal; BM25's length norm is relative to this.
DEFAULT_AVG_LEN = 120.0


class Bm25SparseEncoder:
    """English BM25 encoder needing no model download; the same for every backend."""

    def __init__(self, language: str = "english", avg_len: float = DEFAULT_AVG_LEN,
                 k: float = 1.2, b: float = 0.75) -> None:
        from qdrant_edge import Bm25, Bm25Config

        self._bm25 = Bm25(Bm25Config(k=k, b=b, avg_len=avg_len, language=language))
        self._name = f"bm25-{language}-k{k}-b{b}-avg{avg_len:g}"

    @property
    def name(self) -> str:
        return self._name

    def encode_document(self, text: str) -> SparseVector:
        vec = self._bm25.embed_document(text)
        return SparseVector(list(vec.indices), list(vec.values))

    def encode_query(self, text: str) -> SparseVector:
        vec = self._bm25.embed_query(text)
        return SparseVector(list(vec.indices), list(vec.values))
