from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.settings import ChunkingSettings
from core.types import Document, PageSpan, embedding_text
from ingest.chunking import Chunker, chunk_id
from tests.fixtures.documents import MARKDOWN

MAX_SEQ = 256  # all-MiniLM-L6-v2's window, special tokens included


@pytest.fixture(scope="module")
def tokenize(minilm_path: Path):  # type: ignore[no-untyped-def]
    """The embedder's own word-piece tokenizer (no model weights needed)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(minilm_path / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return lambda text: tokenizer.encode(text, add_special_tokens=False).ids


@pytest.fixture(scope="module")
def article(corpus_dir: Path) -> Document:
    from ingest.parsing import parse_bytes

    path = corpus_dir / "set1" / "a1.txt"
    parsed = parse_bytes(path.read_bytes(), path.name)
    return Document("set1/a1.txt", "Kangaroo", str(path), parsed.text)


def test_spans_are_exact_and_cover_the_text(tokenize, article: Document) -> None:  # type: ignore[no-untyped-def]
    chunks = Chunker(tokenize, MAX_SEQ, ChunkingSettings()).chunk(article, datetime.now(UTC))
    assert len(chunks) > 5
    for chunk in chunks:
        assert article.text[chunk.start:chunk.end] == chunk.text
    assert chunks[0].start == 0
    assert chunks[-1].end == len(article.text)
    # Ordered, and consecutive chunks touch or overlap: no text falls between them.
    for before, after in itertools.pairwise(chunks):
        assert before.start < after.start <= before.end + 2


def test_chunks_fit_the_embedder_window_with_their_title(tokenize, article: Document) -> None:  # type: ignore[no-untyped-def]
    long_title = "Kangaroo " * 20
    doc = Document(article.doc_id, long_title, article.source, article.text)
    for settings in (ChunkingSettings(), ChunkingSettings(chunk_size=1000, chunk_overlap=50)):
        for chunk in Chunker(tokenize, MAX_SEQ, settings).chunk(doc, datetime.now(UTC)):
            assert len(tokenize(embedding_text(doc.title, chunk.text))) + 2 <= MAX_SEQ


def test_chunk_size_is_measured_in_word_pieces(tokenize, article: Document) -> None:  # type: ignore[no-untyped-def]
    chunks = Chunker(tokenize, MAX_SEQ, ChunkingSettings(chunk_size=64, chunk_overlap=8)).chunk(
        article, datetime.now(UTC))
    sizes = [len(tokenize(c.text)) for c in chunks]
    assert max(sizes) <= 64
    assert sum(sizes) / len(sizes) > 32


def test_ids_are_deterministic_and_content_addressed(tokenize, article: Document) -> None:  # type: ignore[no-untyped-def]
    chunker = Chunker(tokenize, MAX_SEQ, ChunkingSettings())
    first = [c.chunk_id for c in chunker.chunk(article, datetime.now(UTC))]
    again = [c.chunk_id for c in chunker.chunk(article, datetime.now(UTC))]
    assert first == again
    assert len(set(first)) == len(first)
    assert chunk_id("a", 0, "text") != chunk_id("a", 0, "text!")
    assert chunk_id("a", 0, "text") != chunk_id("b", 0, "text")
    assert chunk_id("a", 0, "text") != chunk_id("a", 1, "text")


def test_markdown_is_split_by_section(tokenize) -> None:  # type: ignore[no-untyped-def]
    from ingest.parsing import parse_bytes

    parsed = parse_bytes(MARKDOWN.encode(), "wombats.md")
    doc = Document("wombats.md", parsed.title, "wombats.md", parsed.text, format="md")
    chunks = Chunker(tokenize, MAX_SEQ, ChunkingSettings()).chunk(doc, datetime.now(UTC))
    assert [c.text.splitlines()[0] for c in chunks] == ["# Wombats", "## Diet", "## Burrows"]
    assert all(doc.text[c.start:c.end] == c.text for c in chunks)


def test_pdf_chunks_carry_their_page(tokenize) -> None:  # type: ignore[no-untyped-def]
    pages = ["Page one talks about kangaroos. " * 30, "Page two talks about koalas. " * 30]
    text = pages[0].strip() + "\n\n" + pages[1].strip()
    doc = Document("p.pdf", "P", "p.pdf", text, format="pdf",
                   pages=[PageSpan(1, 0), PageSpan(2, len(pages[0].strip()) + 2)])
    chunks = Chunker(tokenize, MAX_SEQ, ChunkingSettings(chunk_size=64, chunk_overlap=0)).chunk(
        doc, datetime.now(UTC))
    assert {c.page for c in chunks} == {1, 2}
    for chunk in chunks:
        assert chunk.page == (1 if chunk.start < doc.pages[1].start else 2)


def test_a_chunk_spanning_pages_knows_each_offsets_page(tokenize) -> None:  # type: ignore[no-untyped-def]
    pages = ["Kangaroos hop.", "Koalas sleep.", "Wombats dig."]
    text = "\n\n".join(pages)
    starts = [text.index(p) for p in pages]
    doc = Document("p.pdf", "P", "p.pdf", text, format="pdf", pages=[PageSpan(i + 1, s) for i, s in enumerate(starts)])
    [chunk] = Chunker(tokenize, MAX_SEQ, ChunkingSettings()).chunk(doc, datetime.now(UTC))
    assert chunk.page == 1 and chunk.last_page == 3
    assert [chunk.page_at(s) for s in starts] == [1, 2, 3]
    assert chunk.page_at(starts[1] - 1) == 1 and chunk.page_at(starts[2] + 3) == 3


def test_a_chunk_of_table_rows_is_never_cut_inside_a_row(tokenize) -> None:  # type: ignore[no-untyped-def]
    # Rows full of commas and periods ("£1,250.00", e-mail addresses): the splitter's own fallback
    # would cut a run of rows at any of them.
    rows = [f"Vendor: V-{i:04} · Contact: ana.{i}@vendor{i}.example · Paid (GBP): £{i},250.75 · "
            f"Terms: Net {i % 60}, invoiced monthly" for i in range(1, 120)]
    text = "\n".join(rows)
    document = Document("vendors.csv", "Vendors", "vendors.csv", text, format="csv")
    chunks = Chunker(tokenize, MAX_SEQ, ChunkingSettings()).chunk(document, datetime.now(UTC))
    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk.start == 0 or text[chunk.start - 1] == "\n", chunk.text[:60]
        assert chunk.end == len(text) or text[chunk.end] == "\n", chunk.text[-60:]


def test_a_captioned_tables_chunks_carry_the_caption_and_the_text_after_it_does_not(tokenize) -> None:  # type: ignore[no-untyped-def]
    from ingest.parsing import parse_bytes

    markup = ("<html><head><title>Travel policy</title></head><body><p>Book trains over flights.</p>"
              "<table><caption>Per diem rates 2025</caption><tr><th>City</th><th>Per diem</th></tr>"
              "<tr><td>Boston</td><td>$79</td></tr></table><p>Receipts are needed for lodging.</p></body></html>")
    parsed = parse_bytes(markup.encode(), "policy.html")
    document = Document("policy.html", parsed.title, "policy.html", parsed.text, format="html",
                        sections=parsed.sections)
    chunks = Chunker(tokenize, MAX_SEQ, ChunkingSettings()).chunk(document, datetime.now(UTC))
    assert [(c.title, c.text) for c in chunks] == [
        ("Travel policy", "Book trains over flights."),
        ("Travel policy — Per diem rates 2025", "Per diem rates 2025\nCity: Boston · Per diem: $79"),
        ("Travel policy", "Receipts are needed for lodging."),
    ]
    assert all(parsed.text[c.start:c.end] == c.text for c in chunks)
