"""Chunking with llama-index node parsers, sized in the embedder's own tokens, with exact spans.

Every chunk satisfies ``document.text[chunk.start:chunk.end] == chunk.text`` and fits the
embedder's window together with its title header, so no vector silently loses its tail.

    >>> from datetime import UTC
    >>> chunker = Chunker(tokenize=str.split, max_seq_length=256, settings=ChunkingSettings())
    >>> [c.text for c in chunker.chunk(Document("d", "D", "d.txt", "One. Two."), datetime.now(UTC))]
    ['One. Two.']
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from itertools import pairwise

from core.sentences import split_sentences
from core.settings import ChunkingSettings
from core.types import Chunk, Document, embedding_text, sha256_text

CHUNK_NAMESPACE = uuid.UUID("6f1c8d2e-2b4a-5a8e-9b0c-7d3e5f1a2b4c")
# Special tokens ([CLS], [SEP]) share the window with the text.
_SPECIAL_TOKENS = 2
# The splitter sums per-split token counts; a joined chunk can tokenize a few pieces longer.
_SAFETY_MARGIN = 6
_MIN_CHUNK_TOKENS = 32


def chunk_id(doc_id: str, ordinal: int, text: str) -> str:
    """Deterministic chunk id: the same document, position and text always give the same id."""
    return str(uuid.uuid5(CHUNK_NAMESPACE, f"{doc_id}\x1f{ordinal}\x1f{sha256_text(text)}"))


class Chunker:
    """Splits documents into token-bounded chunks: sentence-aware for prose, by section for markdown."""

    def __init__(self, tokenize: Callable[[str], Sequence[int]], max_seq_length: int,
                 settings: ChunkingSettings) -> None:
        self._tokenize = tokenize
        self._max_seq_length = max_seq_length
        self._settings = settings

    def token_budget(self, title: str) -> int:
        """Tokens a chunk may have so that title header + chunk fit the embedder's window."""
        header = len(self._tokenize(embedding_text(title, "x"))) - 1 if title else 0
        window = self._max_seq_length - _SPECIAL_TOKENS - header - _SAFETY_MARGIN
        return max(_MIN_CHUNK_TOKENS, min(self._settings.chunk_size, window))

    def chunk(self, document: Document, ingested_at: datetime) -> list[Chunk]:
        spans: list[tuple[int, int, str]] = []
        for section_start, section_text, title in _sections(document):
            for start, end in self._split(section_text, self.token_budget(title)):
                spans.append((section_start + start, section_start + end, title))
        chunks = []
        for ordinal, (start, end, title) in enumerate(spans):
            text = document.text[start:end]
            first = document.span_at(start)
            chunks.append(Chunk(
                chunk_id=chunk_id(document.doc_id, ordinal, text), doc_id=document.doc_id,
                ordinal=ordinal, text=text, start=start, end=end, page=first.page if first else None,
                title=title, source=document.source, content_hash=document.content_hash,
                tags=dict(document.tags), ingested_at=ingested_at,
                page_starts=tuple(p for p in document.pages if start < p.start < end),
                page_unit=document.page_unit, page_label=first.label if first else "", acl=document.acl,
            ))
        return chunks

    def _split(self, text: str, budget: int) -> list[tuple[int, int]]:
        from llama_index.core.node_parser import SentenceSplitter

        overlap = min(self._settings.chunk_overlap, budget // 4)
        splitter = SentenceSplitter(
            chunk_size=budget, chunk_overlap=overlap, tokenizer=self._tokenize,
            paragraph_separator="\n\n", include_metadata=False, include_prev_next_rel=False,
            chunking_tokenizer_fn=sentence_pieces,
        )
        spans = []
        cursor = 0
        for piece in splitter.split_text(text):
            span = _locate(text, piece, cursor)
            if span is None:
                continue
            spans.append(span)
            # Overlapping chunks start before the previous end, never before its start.
            cursor = span[0] + 1
        return spans


def sentence_pieces(text: str) -> list[str]:
    r"""The splitter's sentences: the answer path's own (``core.sentences``), each with the whitespace
    after it, so the pieces join back into ``text``. Its default (punkt) sees no sentence in a run of
    table rows and falls back to cutting at any comma or period: inside "£1,250" or an e-mail address.

        >>> sentence_pieces("City: Boston · Per diem: $79\nCity: Denver · Per diem: $74")
        ['City: Boston · Per diem: $79\n', 'City: Denver · Per diem: $74']
    """
    spans = split_sentences(text)
    if not spans:
        return [text]
    starts = [0] + [span.start for span in spans[1:]] + [len(text)]
    return [text[a:b] for a, b in pairwise(starts) if a < b]


def _locate(text: str, piece: str, cursor: int) -> tuple[int, int] | None:
    """Where ``piece`` sits in ``text`` at or after ``cursor``; tolerant of whitespace changes."""
    piece = piece.strip()
    if not piece:
        return None
    start = text.find(piece, cursor)
    if start >= 0:
        return start, start + len(piece)
    # The splitter may have re-joined whitespace: anchor on the first and last words.
    head, tail = piece[:40].split()[0], piece[-40:].split()[-1]
    start = text.find(head, cursor)
    if start < 0:
        return None
    end = text.find(tail, start + max(0, len(piece) - len(tail) - 200))
    if end < 0:
        end = text.find(tail, start)
    return (start, end + len(tail)) if end >= 0 else None


def _sections(document: Document) -> list[tuple[int, str, str]]:
    """The parts chunked apart, as (offset, text, the title their chunks carry): a markdown file's
    header sections; named parts (a workbook's sheets, an HTML table with its caption), titled
    "document — name" (an empty name: back to the document's title); else the whole document."""
    if document.sections:
        bounds = [(start, name) for start, name in document.sections if start > 0]
        first = document.sections[0][1] if document.sections[0][0] == 0 else ""
        parts = []
        for (start, name), (end, _) in pairwise([(0, first), *bounds, (len(document.text), "")]):
            piece = document.text[start:end]
            lead = len(piece) - len(piece.lstrip())
            if piece.strip():
                parts.append((start + lead, piece.strip(), f"{document.title} — {name}" if name else document.title))
        return parts
    if document.format == "md":
        return [(start, text, document.title) for start, text in _markdown_sections(document.text)]
    return [(0, document.text, document.title)]


def _markdown_sections(text: str) -> list[tuple[int, str]]:
    """Split markdown by headers (llama-index's parser); each section keeps its offset."""
    from llama_index.core import Document as LlamaDocument
    from llama_index.core.node_parser import MarkdownNodeParser

    nodes = MarkdownNodeParser(include_metadata=False).get_nodes_from_documents(
        [LlamaDocument(text=text)]
    )
    sections: list[tuple[int, str]] = []
    cursor = 0
    for node in nodes:
        body = node.get_content().strip()
        if not body:
            continue
        start = text.find(body, cursor)
        if start < 0:
            start = text.find(body.splitlines()[0], cursor)
            if start < 0:
                continue
            body = text[start:start + len(body)]
        sections.append((start, body))
        cursor = start + 1
    return sections or [(0, text)]
