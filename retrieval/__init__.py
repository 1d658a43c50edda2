"""Retrieval: the Qdrant index (owner of the collection schema), hybrid search, fusion, reranking."""
