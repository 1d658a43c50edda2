"""Domain types shared by every layer.

Offsets are character offsets into ``Document.text`` (the normalized text whose
sha256 is ``content_hash``), so ``document.text[chunk.start:chunk.end] == chunk.text``.

    >>> doc = Document(doc_id="a.txt", title="A", source="/x/a.txt", text="Hello.")
    >>> doc.content_hash[:8]
    '2d8bd7d9'
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

FusionMode = Literal["dense", "sparse", "rrf", "dbsf", "convex"]


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class PageSpan:
    """A position of a paged source: its 1-based number (a PDF page, a slide, a spreadsheet row) and
    where it starts in the text. ``label`` says it as a reader would where the number alone does not
    ("sheet Rates, row 5": rows repeat from sheet to sheet)."""

    page: int
    start: int
    label: str = ""


@dataclass(slots=True)
class Document:
    """A parsed document: normalized text plus where it came from."""

    doc_id: str
    title: str
    source: str
    text: str
    tags: dict[str, str] = field(default_factory=dict)
    pages: list[PageSpan] = field(default_factory=list)
    format: str = "txt"
    content_hash: str = ""
    page_unit: str = "page"  # what its pages are: "page" (PDF, scans), "slide" (PPTX), "row" (CSV, XLSX)
    # Named parts (a workbook's sheets) as (offset, name): each of their chunks' titles carries the name.
    sections: list[tuple[int, str]] = field(default_factory=list)
    acl: tuple[str, ...] = ("*",)  # who may read it (core.access): "user:ana", "group:legal"; "*" everyone

    def __post_init__(self) -> None:
        if not self.content_hash:
            self.content_hash = sha256_text(self.text)

    def span_at(self, offset: int) -> PageSpan | None:
        """The page (slide, row) holding ``offset``, or None for unpaginated documents."""
        found = None
        for span in self.pages:
            if span.start > offset:
                break
            found = span
        return found

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding ``offset``, or None for unpaginated documents."""
        span = self.span_at(offset)
        return span.page if span is not None else None


@dataclass(frozen=True, slots=True)
class Chunk:
    """A span of a document, the unit of retrieval."""

    chunk_id: str
    doc_id: str
    ordinal: int
    text: str
    start: int
    end: int
    page: int | None = None
    title: str = ""
    source: str = ""
    content_hash: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    ingested_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Pages (PDF pages, slides, rows) that begin inside the chunk after its first one (``start`` is
    # the offset in the document): a sentence's own page, not the chunk's first, is what a citation names.
    page_starts: tuple[PageSpan, ...] = ()
    page_unit: str = "page"
    page_label: str = ""  # the first page's label, where pages have one (PageSpan.label)
    acl: tuple[str, ...] = ("*",)  # the document's: every read filters on it inside the index query

    def span_at(self, offset: int) -> PageSpan | None:
        """The page holding the document offset ``offset`` (within this chunk); None when unpaginated."""
        found = PageSpan(self.page, self.start, self.page_label) if self.page is not None else None
        for span in self.page_starts:
            if span.start > offset:
                break
            found = span
        return found

    def page_at(self, offset: int) -> int | None:
        span = self.span_at(offset)
        return span.page if span is not None else None

    @property
    def last_page(self) -> int | None:
        return self.page_starts[-1].page if self.page_starts else self.page

    @property
    def encoded_text(self) -> str:
        """What the embedder and the sparse encoder see: the title as a header, then the text."""
        return embedding_text(self.title, self.text)


def embedding_text(title: str, text: str) -> str:
    """The title as a header, then the text: it places a chunk in its document for both encoders."""
    return f"{title}\n\n{text}" if title else text


@dataclass(frozen=True, slots=True)
class SparseVector:
    indices: list[int]
    values: list[float]


@dataclass(frozen=True, slots=True)
class ScoredChunk:
    """A retrieved chunk with the score it was ranked by (higher is better)."""

    chunk: Chunk
    score: float
    dense_score: float | None = None
    sparse_score: float | None = None


@dataclass(frozen=True, slots=True)
class Quote:
    """The exact sentence of source ``[number]`` that supports a claim.

    ``text`` is the document's text at ``start:end`` (offsets into ``Document.text``).
    """

    number: int
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Citation:
    """A source an answer cites as ``[n]``: enough to show and to jump to the exact span.

    ``start:end`` is the retrieved passage (the chunk); ``quote`` is the sentence within it that
    supports the first claim citing it, and ``snippet`` a preview of the passage around it.
    """

    number: int
    chunk_id: str
    doc_id: str
    title: str
    source: str
    start: int
    end: int
    page: int | None
    snippet: str
    score: float
    quote: Quote | None = None
    page_unit: str = "page"
    page_label: str = ""

    @property
    def location(self) -> str | None:
        """Where in its document, as a reader says it: "p. 2", "slide 3", "sheet Rates, row 5"; None
        when unpaginated."""
        if self.page is None:
            return None
        if self.page_label:
            return self.page_label
        return f"p. {self.page}" if self.page_unit == "page" else f"{self.page_unit} {self.page}"


@dataclass(frozen=True, slots=True)
class Claim:
    """One sentence of an answer, tied to the source sentence that supports it (if any).

    ``support`` is the alignment score (0..1); ``supported`` says it cleared the threshold.
    Extractive answers are made of quotes, so their claims are supported by construction.
    """

    text: str
    citations: tuple[int, ...]
    supported: bool
    support: float
    quote: Quote | None = None


@dataclass(slots=True)
class TokenUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True)
class GuardrailEvent:
    """Something a guardrail noticed or changed, e.g. an injected instruction in a source."""

    kind: str
    detail: str
    chunk_id: str | None = None


AnswerMode = Literal["extractive", "generative", "auto"]
# ``high``: the evidence answers the question; ``low``: the closest evidence is shown, marked as
# perhaps not answering it; ``none``: a refusal (nothing related was found).
Confidence = Literal["high", "low", "none"]


@dataclass(slots=True)
class Answer:
    """An answer: its text, the sources it cites, and each sentence's support.

    ``mode`` says how the text was made: ``extractive`` (sentences quoted from the sources),
    ``generative`` (the LLM), or ``refusal``; ``grounded`` is the share of supported claims.
    ``confidence`` is ``high``, ``low`` (the closest evidence, shown as perhaps not answering) or
    ``none`` (a refusal).
    """

    text: str
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    degraded: str | None = None
    claims: list[Claim] = field(default_factory=list)
    grounded: float | None = None
    mode: str = "generative"
    guardrail_events: list[GuardrailEvent] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    usage: TokenUsage = field(default_factory=TokenUsage)
    model: str = ""
    prompt_version: str = ""
    question: str = ""
    confidence: Confidence = "high"


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Restrictions on what a search may return. Empty fields restrict nothing.

    ``tags_any``: at least one ``k=v`` pair matches; ``tags_all``: every pair matches.
    """

    doc_ids: tuple[str, ...] = ()
    source_prefix: str | None = None
    tags_any: tuple[tuple[str, str], ...] = ()
    tags_all: tuple[tuple[str, str], ...] = ()
    ingested_after: datetime | None = None
    ingested_before: datetime | None = None
    # Who is reading (``core.access.Principal.readers``): only documents whose ACL holds one of these
    # entries; None reads every document (an admin, or authentication off).
    readers: tuple[str, ...] | None = None

    def is_empty(self) -> bool:
        return self.readers is None and not (
            self.doc_ids
            or self.source_prefix
            or self.tags_any
            or self.tags_all
            or self.ingested_after
            or self.ingested_before
        )


@dataclass(frozen=True, slots=True)
class FusionSpec:
    """How one query fuses its dense and sparse candidate lists."""

    mode: FusionMode = "rrf"
    rrf_k: int = 60
    dense_weight: float = 1.0
    sparse_weight: float = 1.0
    # Hybrid modes fall back to dense alone when BM25's best hit holds less than this share of
    # the query's terms (0 = never): a paraphrased query gives BM25 nothing but noise to add.
    lexical_gate: float = 0.0
    # Convex fusion stretches the dense list over at least this cosine spread (0 = its own spread):
    # a flat list, every candidate about equally (un)related, then cannot outvote BM25.
    dense_spread_floor: float = 0.0
    # Convex fusion scales BM25's weight by ``flat_bm25_weight`` when its list is flat: its 10th
    # score at least ``flat_bm25_ratio`` of its best (0 = never). Many passages sharing the
    # query's words about equally is no evidence for any one of them; a clear BM25 winner is.
    flat_bm25_ratio: float = 0.0
    flat_bm25_weight: float = 1.0

    @property
    def weighted(self) -> bool:
        return self.dense_weight != self.sparse_weight

    @property
    def adaptive(self) -> bool:
        return self.mode == "convex" and self.flat_bm25_ratio > 0 and self.flat_bm25_weight != 1.0

    def label(self) -> str:
        gate = f",gate={self.lexical_gate:g}" if self.lexical_gate and self.mode not in ("dense", "sparse") else ""
        if self.mode == "convex":
            spread = f",spread={self.dense_spread_floor:g}" if self.dense_spread_floor else ""
            flat = f",flat={self.flat_bm25_ratio:g}x{self.flat_bm25_weight:g}" if self.adaptive else ""
            return f"convex(w={self.dense_weight:g}/{self.sparse_weight:g}{gate}{spread}{flat})"
        if self.mode != "rrf":
            return f"{self.mode}({gate.lstrip(',')})" if gate else self.mode
        weights = f",w={self.dense_weight:g}/{self.sparse_weight:g}" if self.weighted else ""
        return f"rrf(k={self.rrf_k}{weights}{gate})"
