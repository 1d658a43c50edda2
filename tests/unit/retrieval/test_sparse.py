from __future__ import annotations

from retrieval.sparse import Bm25SparseEncoder


def test_stems_lowercases_and_drops_stopwords() -> None:
    encoder = Bm25SparseEncoder()
    doc = encoder.encode_document("The Kangaroos were jumping over the fences")
    query = encoder.encode_query("kangaroo jumps fence")
    assert set(query.indices) == set(doc.indices)  # stems match; "the", "were", "over" are gone
    assert len(doc.indices) == 3


def test_queries_weigh_terms_equally_documents_saturate() -> None:
    encoder = Bm25SparseEncoder()
    assert encoder.encode_query("koala eucalyptus").values == [1.0, 1.0]
    once = encoder.encode_document("koala")
    many = encoder.encode_document("koala koala koala koala koala koala koala koala")
    assert 1.0 < max(many.values) < 2.3  # BM25 saturation caps at k+1
    assert max(many.values) > max(once.values)


def test_deterministic_across_instances() -> None:
    text = "Marsupials carry their young in a pouch."
    assert Bm25SparseEncoder().encode_document(text) == Bm25SparseEncoder().encode_document(text)
