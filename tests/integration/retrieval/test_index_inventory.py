"""The document inventory contract (``list_documents``, ``document_chunks``) on every embedded backend."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.types import SearchFilters
from retrieval.index import DocumentInfo, VectorIndex
from tests.integration.retrieval.corpus import COLLECTION, DOCS

pytestmark = pytest.mark.integration

ALL_IDS = sorted(d.doc_id for d in DOCS.values())


def test_lists_every_document_by_id_with_its_facts(corpus_index: VectorIndex) -> None:
    page = corpus_index.list_documents(COLLECTION)
    assert page.total == len(DOCS)
    assert [d.doc_id for d in page.documents] == ALL_IDS
    rocks = next(d for d in page.documents if d.doc_id == "rocks.pdf")
    doc = DOCS["rocks"]
    assert rocks == DocumentInfo("rocks.pdf", "Rocks", doc.source, doc.tags, len(doc.sentences), doc.content_hash,
                                 doc.ingested_at)


def test_pages_by_offset_and_limit(corpus_index: VectorIndex) -> None:
    pages = [corpus_index.list_documents(COLLECTION, offset=offset, limit=3) for offset in (0, 3)]
    assert [p.total for p in pages] == [len(DOCS), len(DOCS)]
    assert [d.doc_id for p in pages for d in p.documents] == ALL_IDS
    assert corpus_index.list_documents(COLLECTION, offset=10).documents == []


@pytest.mark.parametrize(("filters", "expected"), [
    (SearchFilters(tags_all=(("topic", "nature"), ("lang", "en"))), ["animals.txt", "volcanoes.txt"]),
    (SearchFilters(source_prefix="/corpus/geo"), ["rocks.pdf", "volcanoes.txt"]),
    (SearchFilters(ingested_after=datetime(2024, 5, 1, tzinfo=UTC)), ["baking.md", "rocks.pdf"]),
])
def test_filters_like_a_search(corpus_index: VectorIndex, filters: SearchFilters, expected: list[str]) -> None:
    page = corpus_index.list_documents(COLLECTION, filters)
    assert (page.total, [d.doc_id for d in page.documents]) == (len(expected), expected)


def test_document_chunks_come_in_ordinal_order_and_rebuild_the_text(corpus_index: VectorIndex) -> None:
    doc = DOCS["volcanoes"]
    chunks = corpus_index.document_chunks(COLLECTION, doc.doc_id)
    assert [c.ordinal for c in chunks] == [0, 1, 2]
    assert [c.text for c in chunks] == list(doc.sentences)
    assert DocumentInfo.from_chunks(chunks).chunks == 3
    assert DocumentInfo.from_chunks(corpus_index.document_chunks(COLLECTION, "rocks.pdf")).pages == 4
    assert corpus_index.document_chunks(COLLECTION, "missing.txt") == []


def test_a_deleted_document_leaves_the_inventory(index: VectorIndex) -> None:
    assert index.delete_document(COLLECTION, "baking.md") > 0
    page = index.list_documents(COLLECTION)
    assert "baking.md" not in [d.doc_id for d in page.documents] and page.total == len(DOCS) - 1
    assert index.document_chunks(COLLECTION, "baking.md") == []
