"""Answering over HTTP: the cache in front of the Answerer, blocking work in threads, metrics.

One service for ``/ask``, ``/chat`` and ``/v1/chat/completions``: each turns its request
into a ``Question`` and gets back the answer payload (``api.schemas.AnswerResponse``'s
shape) or a stream of events ending in one.

    >>> q = Question("When was Lincoln born?", "docs")
    >>> q.history
    []
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import anyio
import numpy as np
import numpy.typing as npt

from api.answer_signals import AnswerSignals
from api.metrics import Metrics
from api.schemas import Filters, answer_payload
from api.streaming import iterate_blocking, run_blocking
from core.answer_request import AnswerRequest, answer_key, semantic_scope
from core.deadlines import deadline_after, set_deadline
from core.errors import AnswerTimeout, GuardrailViolation, InvalidRequest
from core.experiments import Assignment
from core.protocols import Embedder, GenerationOptions
from core.tracing import span
from core.types import Answer, ChatMessage, SearchFilters
from generation import AnswerDelta, AnswerDone, Answerer, AnswerEvent
from state.answer_cache import AnswerCache, mark_cached
from state.semantic_cache import SemanticCache


@dataclass(slots=True)
class Question:
    """A question as the API received it (history: earlier turns, oldest first)."""

    text: str
    collection: str
    filters: Filters | None = None
    top_k: int | None = None
    history: list[ChatMessage] = field(default_factory=list)
    arrived: float = field(default_factory=time.monotonic)  # the answer's deadline counts from here
    options: GenerationOptions | None = None  # an OpenAI client's sampling fields and system text
    readers: tuple[str, ...] | None = None  # the caller's access (Principal.readers); None: every document
    caller: str = "open:anonymous"  # who asks (Principal.label): what the answer costs is metered to it
    subject: str | None = None  # whose arm it is in a live experiment (a user, a conversation); None: no arm

    def request(self, timeout_s: float) -> AnswerRequest:
        """The question as the Answerer takes it, due ``timeout_s`` after it arrived. The caller's
        access joins the filters, so retrieval reads only what it may, and the cache keys (built
        from the filters) never hand one caller's answer to another with other access."""
        filters = self.filters.to_domain() if self.filters else None
        if self.readers is not None:
            filters = replace(filters or SearchFilters(), readers=self.readers)
        return AnswerRequest(self.text, self.collection, filters, tuple(self.history), self.top_k, self.options,
                             deadline=self.arrived + timeout_s)


@dataclass(frozen=True, slots=True)
class Delta:
    text: str


@dataclass(frozen=True, slots=True)
class Done:
    payload: dict[str, Any]


StreamEvent = Delta | Done


@dataclass(slots=True)
class _Key:
    fp: str
    scope: str  # the semantic cache's scope ("" when it is off)
    version: str | None = None
    vector: npt.NDArray[np.float32] | None = None
    caller: str = "open:anonymous"  # metered to (Question.caller)
    arm: Assignment | None = None  # the experiment arm whose settings the request carries


OUTAGES = frozenset({"llm_unavailable", "llm_timeout", "timeout"})
# Kept back from the answer's deadline for the evidence-only answer that replaces a generation
# that could not start or finish in time (it takes well under a second).
FALLBACK_RESERVE_S = 2.0


class AnswerService:
    """Cache lookup, then the Answerer in a worker thread, then cache write and metrics.

    Example::

        payload = await service.ask(Question("Who built the bridge?", "docs"))
        async for event in await service.stream(Question("And when?", "docs", history=turns)):
            ...  # Delta(text) events, then Done(payload)
    """

    def __init__(self, answerer: Answerer, cache: AnswerCache, semantic: SemanticCache | None, embedder: Embedder,
                 metrics: Metrics, *, timeout_s: float, threads: int = 2, signals: AnswerSignals | None = None) -> None:
        self.answerer = answerer
        self.cache = cache
        self.semantic = semantic
        self.embedder = embedder
        self.metrics = metrics
        self.timeout_s = timeout_s
        self.signals = signals or AnswerSignals(metrics)  # usage and experiments (none without Redis stores)
        # Answers are CPU work on few cores: more threads than that only take the event loop's
        # turns (16 at once put /healthz's p95 at 115 ms; two keep it near idle), and they queue
        # here, awaiting, at no cost. The deadline counts the wait.
        self.limiter = anyio.CapacityLimiter(threads)

    def _key(self, request: AnswerRequest) -> _Key:
        shape = self.answerer.shape(request)
        scope = semantic_scope(request, shape, self.embedder.identity) if self.semantic is not None else ""
        return _Key(answer_key(request, shape), scope)

    async def _begin(self, q: Question) -> tuple[AnswerRequest, _Key]:
        """The question as a request, in its experiment's arm when it falls in one, and its cache key."""
        request, arm = await self.signals.enroll(q.request(self.timeout_s), q.subject)
        key = self._key(request)
        key.caller, key.arm = q.caller, arm
        return request, key

    async def _lookup(self, q: AnswerRequest, key: _Key) -> tuple[bytes | None, dict[str, Any] | None]:
        """A hit as stored JSON bytes (exact cache) or as a payload (semantic cache); (None, None) on a miss."""
        with span("answer.cache.lookup") as traced:
            found = await self._find(q, key)
            traced.set_attribute("cache.result", "miss" if found == (None, None) else "hit")
        return found

    async def _find(self, q: AnswerRequest, key: _Key) -> tuple[bytes | None, dict[str, Any] | None]:
        started = time.perf_counter()
        found = await self.cache.lookup(key.fp, q.collection)
        key.version = found.version
        if found.raw is not None:
            patched = mark_cached(found.raw, (time.perf_counter() - started) * 1000)
            return (patched, None) if patched is not None else (None, _as_cached(found.payload, started))
        if self.semantic is not None and key.version is not None and not q.history:
            key.vector = await run_blocking(self.embedder.embed_query, q.question.strip())
            payload = await self.semantic.lookup(key.scope, key.version, key.vector)
            if payload is not None:
                return None, _as_cached(payload, started)
        return None, None

    async def ask_json(self, q: Question) -> bytes:
        """The answer as JSON bytes: a cache hit goes out as stored, never parsed."""
        request, key = await self._begin(q)
        raw, payload = await self._lookup(request, key)
        if raw is not None or payload is not None:
            self.signals.cached(key.caller, request.collection, key.arm, raw, payload)
        if raw is not None:
            return raw
        if payload is None:
            payload = await self._answer(request, key)
        return json.dumps(payload, separators=(",", ":")).encode()

    async def ask(self, q: Question) -> dict[str, Any]:
        request, key = await self._begin(q)
        raw, payload = await self._lookup(request, key)
        if raw is not None or payload is not None:
            self.signals.cached(key.caller, request.collection, key.arm, raw, payload)
        if raw is not None:
            return json.loads(raw)
        return payload if payload is not None else await self._answer(request, key)

    async def _answer(self, request: AnswerRequest, key: _Key) -> dict[str, Any]:
        try:
            with deadline_after(_left(request) - FALLBACK_RESERVE_S):
                answer = await run_blocking(self.answerer.ask, request,
                                            timeout_s=max(0.1, _left(request) - FALLBACK_RESERVE_S),
                                            limiter=self.limiter)
        except GuardrailViolation:
            self.metrics.guardrail_blocks.inc()
            raise
        except AnswerTimeout:
            answer = await self._evidence_only(request)
        return await self._finish(request, key, answer)

    async def _evidence_only(self, request: AnswerRequest) -> Answer:
        """The deadline came first: the answer from the evidence alone, in the time kept back for it."""
        quick = replace(request, mode="extractive")
        try:
            self.answerer.plan(quick)
        except InvalidRequest:  # no evidence scorer: nothing to answer from but the model
            raise AnswerTimeout(f"no answer within {self.timeout_s:g} s") from None
        answer = await run_blocking(self.answerer.ask, quick,
                                    timeout_s=max(0.1, _left(request) + FALLBACK_RESERVE_S / 2))
        return replace(answer, degraded="timeout")

    async def stream(self, q: Question) -> AnswerStream:
        """Errors before the first token (guardrails, a missing collection) raise here, not mid-stream.
        The stream's ``answer_id`` is known from the start (the done frame's, cached or new)."""
        request, key = await self._begin(q)
        raw, cached = await self._lookup(request, key)
        if raw is not None:
            cached = json.loads(raw)
        if cached is not None:
            self.signals.cached(key.caller, request.collection, key.arm, payload=cached)
            return AnswerStream(str(cached["answer_id"]), replay(cached))
        answer_id = uuid.uuid4().hex
        set_deadline(_left(request) - FALLBACK_RESERVE_S)  # this request's task: the relay's steps run under it
        events = iterate_blocking(self.answerer.ask_stream(request), limiter=self.limiter)
        try:
            first = await run_first(events, max(0.1, _left(request) - FALLBACK_RESERVE_S))
        except AnswerTimeout:
            await events.aclose()
            answer = await self._evidence_only(request)
            return AnswerStream(answer_id, replay(await self._finish(request, key, answer, answer_id)))
        except BaseException as exc:
            await events.aclose()
            if isinstance(exc, GuardrailViolation):
                self.metrics.guardrail_blocks.inc()
            raise
        return AnswerStream(answer_id, self._relay(request, key, first, events, answer_id))

    async def _relay(self, q: AnswerRequest, key: _Key, first: AnswerEvent | None,
                     events: AsyncGenerator[AnswerEvent, None], answer_id: str) -> AsyncIterator[StreamEvent]:
        try:
            event = first
            while event is not None:
                if isinstance(event, AnswerDelta):
                    yield Delta(event.text)
                elif isinstance(event, AnswerDone):
                    yield Done(await self._finish(q, key, event.answer, answer_id))
                event = await anext(events, None)
        finally:
            await events.aclose()

    async def _finish(self, q: AnswerRequest, key: _Key, answer: Answer,
                      answer_id: str | None = None) -> dict[str, Any]:
        payload = answer_payload(answer, answer_id or uuid.uuid4().hex, q.collection,
                                 experiment=key.arm.to_dict() if key.arm is not None else None)
        self.metrics.observe_answer(answer)
        self.signals.fresh(key.caller, q.collection, key.arm, answer, payload["answer_id"])
        # An answer made around an outage reflects the outage, not the documents: never cache it.
        # A self-check's replacement is the documents' answer, as good tomorrow as today.
        version = key.version if answer.degraded not in OUTAGES else None
        scope = key.scope if version is not None and not q.history else ""  # "" when the semantic cache is off
        with span("answer.cache.save", {"cache.stored": version is not None}):
            await self.cache.save(key.fp, q.collection, version, payload, [c.doc_id for c in answer.citations],
                                  scope=scope)
            if self.semantic is not None and version is not None and scope:
                vector = key.vector
                if vector is None:
                    vector = await run_blocking(self.embedder.embed_query, q.question.strip())
                await self.semantic.add(key.scope, version, key.fp, vector)
        return payload


def _left(request: AnswerRequest) -> float:
    """Seconds to the request's deadline."""
    assert request.deadline is not None  # the service sets one on every request
    return request.deadline - time.monotonic()


@dataclass(frozen=True, slots=True)
class AnswerStream:
    """An answer's stream events, and the ``answer_id`` its done frame will carry (known up front, so
    an OpenAI stream's chunks can bear it as their ``id``)."""

    answer_id: str
    events: AsyncIterator[StreamEvent]

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self.events


def _as_cached(payload: dict[str, Any] | None, started: float) -> dict[str, Any] | None:
    if payload is not None:
        payload["cached"] = True
        payload["timings_ms"] = {"cache": round((time.perf_counter() - started) * 1000, 3)}
    return payload


async def run_first(events: AsyncIterator[AnswerEvent], timeout_s: float) -> AnswerEvent | None:
    """The first event (guards, retrieval and the first token happen here), under the deadline."""
    try:
        with anyio.fail_after(timeout_s):
            return await anext(events, None)
    except TimeoutError as exc:
        raise AnswerTimeout(f"no answer within {timeout_s:g} s") from exc


async def replay(payload: dict[str, Any]) -> AsyncIterator[StreamEvent]:
    """A finished answer as stream events: its whole text as one delta, then done."""
    yield Delta(payload["text"])
    yield Done(payload)


def split_chat(messages: list[tuple[str, str]]) -> tuple[str, list[ChatMessage]]:
    """The last user message is the question; earlier user/assistant turns are its history."""
    turns = [(role, content) for role, content in messages if role in ("user", "assistant")]
    if not turns or turns[-1][0] != "user":
        raise InvalidRequest("the last message must be the user's question")
    *history, (_, question) = turns
    return question, [ChatMessage(role, content) for role, content in history]
