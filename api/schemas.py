"""Wire models of the native API (the OpenAI-compatible ones are in ``api/openai_schemas.py``).

Domain types stay in ``core``; these only shape JSON in and out, with examples for the docs.

    >>> AskRequest(question="Who built the bridge?").collection is None
    True
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.names import COLLECTION_PATTERN, parse_tag_pairs
from core.types import Answer, Quote, SearchFilters


class Filters(BaseModel):
    """Restrictions on the retrieved passages; empty fields restrict nothing."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"tags_all": ["team=legal"]}]})

    doc_ids: list[str] = Field(default_factory=list, max_length=100, description="Only these documents.")
    source_prefix: str | None = Field(default=None, max_length=1000, description="Only sources starting with this.")
    tags_any: list[str] = Field(default_factory=list, max_length=50, description="`key=value`: at least one matches.")
    tags_all: list[str] = Field(default_factory=list, max_length=50, description="`key=value`: every one matches.")
    ingested_after: datetime | None = Field(default=None, description="Only chunks ingested after this time.")
    ingested_before: datetime | None = Field(default=None, description="Only chunks ingested before this time.")

    def to_domain(self) -> SearchFilters | None:
        filters = SearchFilters(
            doc_ids=tuple(self.doc_ids), source_prefix=self.source_prefix or None,
            tags_any=parse_tag_pairs(self.tags_any), tags_all=parse_tag_pairs(self.tags_all),
            ingested_after=self.ingested_after, ingested_before=self.ingested_before,
        )  # fmt: skip
        return None if filters.is_empty() else filters


_USER = ("Your end user's id (any stable string, e.g. a hash): a live experiment (`ragqa experiments`) keeps "
         "one user in one arm. Only hashed, never stored. Unset: the conversation, else the API key decides.")


class AskRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"question": "How are documents chunked?", "collection": "docs"}]},
    )

    question: str = Field(min_length=1, max_length=20_000, description="The question, in any wording.")
    collection: str | None = Field(default=None, pattern=COLLECTION_PATTERN, description="Default: `docs`.")
    filters: Filters | None = None
    top_k: int | None = Field(default=None, ge=1, le=50, description="Passages given to the model.")
    stream: bool = Field(default=False, description="Server-sent events (also with `Accept: text/event-stream`).")
    user: str | None = Field(default=None, min_length=1, max_length=128, description=_USER)


class ChatTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant", "system"]
    content: str = Field(max_length=20_000)


class ChatRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"messages": [
            {"role": "user", "content": "Who was the sixteenth US president?"},
            {"role": "assistant", "content": "Abraham Lincoln [1]."},
            {"role": "user", "content": "When was he born?"},
        ], "collection": "docs"}]},
    )  # fmt: skip

    messages: list[ChatTurn] = Field(
        min_length=1, max_length=100, description="The conversation, oldest first; the last is the user's."
    )
    collection: str | None = Field(default=None, pattern=COLLECTION_PATTERN)
    filters: Filters | None = None
    top_k: int | None = Field(default=None, ge=1, le=50)
    stream: bool = False
    user: str | None = Field(default=None, min_length=1, max_length=128, description=_USER)
    conversation_id: str | None = Field(
        default=None, min_length=1, max_length=128,
        description="The conversation's id (the widget sends one per chat): without `user`, a live experiment "
        "keeps one conversation in one arm. Only hashed, never stored.")


class QuoteOut(BaseModel):
    """The exact sentence that supports a claim: the document's text at `start:end`."""

    number: int = Field(description="The source `[n]` it is in.")
    start: int = Field(description="Character offset of the sentence in the document's text.")
    end: int
    text: str


class CitationOut(BaseModel):
    number: int = Field(description="The `[n]` marker in the text.")
    chunk_id: str
    doc_id: str
    title: str
    source: str
    start: int = Field(description="Character offset of the passage in the document's text.")
    end: int
    page: int | None = Field(description="The page (or slide) the quoted sentence is on; null when unpaginated.")
    location: str | None = Field(default=None, description='The page as a reader says it: "p. 2", "slide 3".')
    snippet: str = Field(description="A preview of the passage; it holds the quote whole (whitespace folded).")
    score: float
    quote: QuoteOut | None = Field(default=None, description="The sentence of the passage that supports the answer.")


class ClaimOut(BaseModel):
    """One sentence of the answer and the source sentence that supports it."""

    text: str = Field(description="The answer's sentence, without its `[n]` markers.")
    citations: list[int] = Field(description="The sources it cites (or is attributed to).")
    supported: bool = Field(description="Whether a source sentence supports it (see `support`).")
    support: float = Field(description="Alignment score with the quote, 0..1.")
    quote: QuoteOut | None


class GuardrailEventOut(BaseModel):
    kind: str
    detail: str
    chunk_id: str | None = None


class UsageOut(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ExperimentArmOut(BaseModel):
    name: str = Field(description="The experiment.")
    arm: str = Field(description="The arm (variant) whose settings made the answer.")


class AnswerResponse(BaseModel):
    """An answer with its sources; the same shape from `/ask`, `/chat` and the final stream event."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "answer_id": "5f0c6c1e2b7a4d0f9a1e3c2b1a0d9e8f", "text": "Lincoln was born on February 12, 1809 [1].",
        "citations": [{"number": 1, "chunk_id": "9b2e...", "doc_id": "set3/a4.txt", "title": "Abraham Lincoln",
                       "source": "a4.txt", "start": 1200, "end": 1980, "page": None,
                       "snippet": "Lincoln was born on February 12, 1809…", "score": 0.031}],
        "refused": False, "degraded": None, "cached": False, "prompt_version": "rag-v1",
        "model": "smollm2-135m-instruct", "collection": "docs", "question": "When was Abraham Lincoln born?",
        "timings_ms": {"retrieve": 21.0, "generate": 640.2, "total": 668.9},
        "usage": {"prompt_tokens": 812, "completion_tokens": 14, "total_tokens": 826}, "guardrail_events": [],
    }]})  # fmt: skip

    answer_id: str = Field(description="Quote it in `POST /feedback`.")
    text: str
    citations: list[CitationOut]
    refused: bool = Field(description="True when the documents don't answer the question.")
    confidence: Literal["high", "low", "none"] = Field(
        default="high",
        description="`high`: the evidence answers the question. `low`: the documents may not answer it "
        "directly; the text says so and quotes the closest passage. `none`: a refusal (nothing related).")
    degraded: str | None = Field(
        description="Why the answer is not the configured kind: the LLM failed or had no turn in time "
        "(`llm_unavailable`, `llm_timeout`), the deadline came before the generation (`timeout`), "
        "or its output failed the self-check (`degenerate_generation`, `ungrounded_generation`, "
        "`planted_text_in_generation`, `unwarranted_refusal`; `planted_text`: every generated sentence "
        "repeated text planted in a source), so the answer was built from the evidence.")
    mode: str = Field(default="generative", description="How the text was made: `extractive` (quoted sentences), "
                      "`generative` (the LLM), `refusal` or `sources` (a list of the sources).")
    claims: list[ClaimOut] = Field(default_factory=list, description="Each sentence of the answer with its support.")
    grounded: float | None = Field(default=None, description="Share of the answer's sentences a source supports.")
    cached: bool
    prompt_version: str
    model: str
    collection: str
    question: str = Field(description="The question answered (a follow-up, made standalone).")
    timings_ms: dict[str, float]
    usage: UsageOut
    guardrail_events: list[GuardrailEventOut]
    semantic_similarity: float | None = Field(
        default=None, description="On a semantic-cache hit: how close the cached question was (cosine)."
    )
    experiment: ExperimentArmOut | None = Field(
        default=None, description="The live experiment and arm the answer was made in (`ragqa experiments`).")


def _quote(quote: Quote | None) -> dict[str, Any] | None:
    return None if quote is None else {"number": quote.number, "start": quote.start, "end": quote.end,
                                       "text": quote.text}


def answer_payload(answer: Answer, answer_id: str, collection: str, cached: bool = False,
                   experiment: dict[str, str] | None = None) -> dict[str, Any]:
    """The `AnswerResponse` as plain JSON-ready data (cached and served without re-validation);
    ``experiment``: the arm that made it (``core.experiments.Assignment.to_dict``)."""
    return {
        "answer_id": answer_id, "text": answer.text,
        "citations": [{"number": c.number, "chunk_id": c.chunk_id, "doc_id": c.doc_id, "title": c.title,
                       "source": c.source, "start": c.start, "end": c.end, "page": c.page, "location": c.location,
                       "snippet": c.snippet, "score": c.score, "quote": _quote(c.quote)} for c in answer.citations],
        "refused": answer.refused, "degraded": answer.degraded, "cached": cached, "mode": answer.mode,
        "confidence": answer.confidence,
        "claims": [{"text": c.text, "citations": list(c.citations), "supported": c.supported, "support": c.support,
                    "quote": _quote(c.quote)} for c in answer.claims],
        "grounded": answer.grounded,
        "prompt_version": answer.prompt_version, "model": answer.model, "collection": collection,
        "question": answer.question,
        "usage": {"prompt_tokens": answer.usage.prompt_tokens, "completion_tokens": answer.usage.completion_tokens,
                  "total_tokens": answer.usage.total_tokens},
        "guardrail_events": [{"kind": e.kind, "detail": e.detail, "chunk_id": e.chunk_id}
                             for e in answer.guardrail_events],
        "experiment": experiment,
        "timings_ms": dict(answer.timings_ms),  # last: see state.answer_cache.mark_cached
    }  # fmt: skip


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine code, e.g. `not_found`, `rate_limited`.")
    message: str


class ErrorResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"error": {"code": "not_found",
                                                                         "message": "job 'x' does not exist"}}]})

    error: ErrorDetail


class RejectedFile(BaseModel):
    name: str = Field(description="The file's name as uploaded.")
    error: ErrorDetail


class JobAccepted(BaseModel):
    job_id: str
    status_url: str
    documents: list[str] = Field(description="The doc_ids the files will be indexed as.")
    rejected: list[RejectedFile] = Field(
        default_factory=list, description="Files refused at once (an unsupported type), not queued; the rest "
        "are. When every file is refused, the answer is 415 `unsupported_format` instead.")


class DocumentProgressOut(BaseModel):
    doc_id: str
    name: str
    state: Literal["queued", "parsing", "embedding", "indexing", "done", "failed", "cancelled"]
    status: str | None = Field(description="Once done: added, updated, unchanged or failed.")
    chunks: int
    error_code: str | None
    reason: str | None


class JobResponse(BaseModel):
    job_id: str
    collection: str
    state: Literal["queued", "running", "done", "partial", "failed", "cancelled"]
    created_at: float
    updated_at: float
    cancel_requested: bool
    counts: dict[str, int]
    total: int
    chunks_written: int
    error: ErrorDetail | None
    documents: list[DocumentProgressOut]


class Erasure(BaseModel):
    cached_answers: int = Field(description="Cached answers that cited it, deleted.")
    answer_records: int = Field(description="Stored answers (kept for feedback) that cited it, deleted.")
    feedback_rows: int = Field(description="Feedback rows whose copy of its text was removed (the rating stays).")


class DeletedResponse(BaseModel):
    collection: str
    doc_id: str
    chunks_deleted: int
    answers_evicted: int = Field(description="Cached answers that cited it (as `erased.cached_answers`).")
    erased: Erasure = Field(description="What Redis held of its text, removed with it.")


class DocumentOut(BaseModel):
    """One document of a collection. `source` is a relative name (the path under the ingest root, or the
    uploaded file's name), never a path on the server."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "doc_id": "set1/a1.txt", "title": "Kangaroo", "source": "set1/a1.txt", "tags": {"team": "zoo"},
        "chunks": 18, "content_hash": "2d8bd7d9…", "ingested_at": "2025-01-31T09:12:00+00:00", "pages": None,
        "format": "txt"}]})  # fmt: skip

    doc_id: str
    title: str
    source: str = Field(description="Where it came from, relative (what citations show).")
    tags: dict[str, str]
    chunks: int = Field(description="Chunks the document was split into.")
    content_hash: str = Field(description="sha256 of the normalized text (the text citations' offsets index).")
    ingested_at: datetime | None
    pages: int | None = Field(default=None, description="Pages of a paginated source (PDF); in the detail only.")
    format: str | None = Field(default=None, description="The file's extension, when it has one.")


class DocumentsResponse(BaseModel):
    collection: str
    total: int = Field(description="Documents matching the filters, in all pages.")
    offset: int
    limit: int
    next_offset: int | None = Field(description="The `offset` of the next page; null on the last.")
    documents: list[DocumentOut]


class DocumentTextResponse(BaseModel):
    """A span of a document's normalized text: the text citations' `start`/`end` and quotes index into.

    `text` is `[start:end]`; `before` and `after` are up to `context` characters around it."""

    doc_id: str
    collection: str
    start: int
    end: int
    length: int = Field(description="Characters in the whole text.")
    content_hash: str
    text: str
    before: str = ""
    after: str = ""


class CollectionOut(BaseModel):
    name: str
    documents: int
    chunks: int
    dense_size: int


class CollectionsResponse(BaseModel):
    collections: list[CollectionOut]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"answer_id": "5f0c6c1e2b7a4d0f9a1e3c2b1a0d9e8f", "rating": "up"}]},
    )

    answer_id: str = Field(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")
    rating: Literal["up", "down"] = Field(
        description="`down` also takes the answer out of the answer cache at once (the next ask is answered afresh).")
    comment: str | None = Field(default=None, max_length=4000)
    correction: str | None = Field(
        default=None, max_length=4000,
        description="The right answer, in the rater's words: `ragqa feedback export --format eval` makes it "
        "the gold answer.")


class FeedbackResponse(BaseModel):
    feedback_id: str
    answer_id: str
    cache_evicted: bool = Field(default=False, description="A down-vote took the answer out of the answer cache.")


class EventRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"answer_id": "5f0c6c1e2b7a4d0f9a1e3c2b1a0d9e8f", "kind": "citation_open",
                                         "number": 2}]},
    )  # fmt: skip

    answer_id: str = Field(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")
    kind: Literal["citation_open", "copy"] = Field(
        description="`citation_open`: the reader opened one of the answer's sources; `copy`: copied its text.")
    number: int | None = Field(default=None, ge=1, le=1000, description="The source `[n]` opened.")


class EventResponse(BaseModel):
    answer_id: str
    kind: str
    experiment: ExperimentArmOut | None = Field(
        default=None, description="The experiment arm the event was counted for (null: the answer was in none).")


class HealthResponse(BaseModel):
    status: Literal["ok"]


class ReadyResponse(BaseModel):
    status: Literal["ok", "degraded", "down"]
    checks: dict[str, dict[str, str]] = Field(description="index, redis, llm: {status, detail}.")
