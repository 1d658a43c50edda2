"""The Answerer: question in, cited answer out.

Stages (each timed in ``Answer.timings_ms``): ``input_guard`` -> ``condense`` (follow-ups
only) -> ``retrieve`` -> ``context_guard`` -> ``prompt`` -> ``generate`` -> ``validate``.
Retrieval below the refusal floor answers "the documents don't say" without calling the
LLM; an unavailable LLM gives a sources-only answer when configured.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import structlog

from core.errors import LLMTimeout, LLMUnavailable
from core.protocols import ChatModel, Retriever
from core.settings import Settings
from core.types import Answer, ChatMessage, GuardrailEvent, ScoredChunk, SearchFilters, TokenUsage
from generation.answers import (
    AnswerDelta,
    AnswerDone,
    AnswerEvent,
    StageTimer,
    make_citation,
    sources_only_text,
)
from generation.budget import fit_prompt
from generation.chat import estimate_usage
from generation.condense import condense_question
from generation.factory import build_chat_model
from generation.guardrails.citations import (
    CitationCheck,
    CitationStreamFilter,
    tidy_removed_markers,
    validate_citations,
)
from generation.guardrails.context import ContextGuard
from generation.guardrails.input import InputGuard
from generation.guardrails.refusal import REFUSAL_TEXT, RefusalPolicy, looks_like_refusal
from generation.prompts import PromptSource, PromptTemplate, defang_special_tokens, load_prompt

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class _Prepared:
    """Everything decided before generation."""

    question: str
    messages: list[ChatMessage]
    chunks: list[ScoredChunk]  # in prompt order: chunks[n - 1] is source [n]
    events: list[GuardrailEvent]
    timer: StageTimer
    prompt_tokens: int
    early: Answer | None = None
    extra: dict[str, float] = field(default_factory=dict)


class Answerer:
    """Answers questions from a collection with citations, refusals and guardrails.

    ``Answer.question`` is the question as answered: for a follow-up, its standalone rewrite.

    Example::

        answerer = Answerer.from_settings(settings, retriever)
        answer = answerer.ask("When was the bridge built?", "docs")
        for event in answerer.ask_stream("And who built it?", "docs", history=turns):
            ...  # AnswerDelta(text) events, then AnswerDone(answer)
    """

    def __init__(
        self,
        retriever: Retriever,
        chat_model: ChatModel,
        *,
        prompt: PromptTemplate | None = None,
        condense_prompt: PromptTemplate | None = None,
        input_guard: InputGuard | None = None,
        context_guard: ContextGuard | None = None,
        refusal: RefusalPolicy | None = None,
        top_k: int = 6,
        max_tokens: int = 256,
        context_window: int = 2048,
        max_history_turns: int = 6,
        fallback_sources_only: bool = True,
    ) -> None:
        self.retriever = retriever
        self.chat_model = chat_model
        self.prompt = prompt or load_prompt("rag-v1")
        self.condense_prompt = condense_prompt or load_prompt("condense-v1")
        self.input_guard = input_guard or InputGuard()
        self.context_guard = context_guard or ContextGuard()
        self.refusal = refusal or RefusalPolicy()
        self.top_k = top_k
        self.max_tokens = max_tokens
        self.context_window = context_window
        self.max_history_turns = max_history_turns
        self.fallback_sources_only = fallback_sources_only

    @classmethod
    def from_settings(cls, settings: Settings, retriever: Retriever, chat_model: ChatModel | None = None) -> Answerer:
        """Builds the chat model from ``settings.llm`` unless one is handed in (to share it)."""
        llm, guards = settings.llm, settings.guardrails
        return cls(
            retriever,
            chat_model or build_chat_model(llm),
            prompt=load_prompt(llm.prompt_version),
            input_guard=InputGuard.from_settings(guards),
            context_guard=ContextGuard.from_settings(guards),
            refusal=RefusalPolicy.from_settings(guards),
            top_k=settings.retrieval.top_k,
            max_tokens=llm.max_tokens,
            context_window=llm.context_window,
            max_history_turns=llm.max_history_turns,
            fallback_sources_only=guards.fallback_sources_only,
        )

    def with_prompt(self, version: str) -> Answerer:
        """A copy answering with another prompt version (A/B runs share everything else)."""
        clone = copy.copy(self)
        clone.prompt = load_prompt(version)
        return clone

    # -- the two entry points ------------------------------------------------------------------

    def ask(
        self,
        question: str,
        collection: str,
        filters: SearchFilters | None = None,
        history: Sequence[ChatMessage] | None = None,
    ) -> Answer:
        prep = self._prepare(question, collection, filters, history or ())
        if prep.early is not None:
            return prep.early
        try:
            with prep.timer.stage("generate"):
                text, usage = self.chat_model.complete(prep.messages, self.max_tokens)
        except (LLMUnavailable, LLMTimeout) as exc:
            return self._fallback(prep, exc)
        started = time.perf_counter()
        return self._finish(prep, validate_citations(text.strip(), len(prep.chunks)), usage, started)

    def ask_stream(
        self,
        question: str,
        collection: str,
        filters: SearchFilters | None = None,
        history: Sequence[ChatMessage] | None = None,
    ) -> Iterator[AnswerEvent]:
        """Token deltas as they come, then one ``AnswerDone`` with the validated Answer.

        Preparation (guards, retrieval) runs on the first ``next()``; a guardrail rejection
        raises there, before any event.
        """
        prep = self._prepare(question, collection, filters, history or ())
        if prep.early is not None:
            yield AnswerDelta(prep.early.text)
            yield AnswerDone(prep.early)
            return
        citations = CitationStreamFilter(len(prep.chunks))
        started = time.perf_counter()
        stream = self.chat_model.stream(prep.messages, self.max_tokens)
        first = True
        try:
            with prep.timer.stage("generate"):
                for delta in stream:
                    if first:
                        first = False
                        prep.extra["first_token"] = round((time.perf_counter() - started) * 1000, 3)
                    text = citations.feed(delta)
                    if text:
                        yield AnswerDelta(text)
        except (LLMUnavailable, LLMTimeout) as exc:
            if not first:
                raise  # part of an answer was shown: a fallback would contradict it
            fallback = self._fallback(prep, exc)
            yield AnswerDelta(fallback.text)
            yield AnswerDone(fallback)
            return
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        started = time.perf_counter()
        tail = citations.flush()
        if tail:
            yield AnswerDelta(tail)
        usage = getattr(stream, "usage", None)
        if not isinstance(usage, TokenUsage):
            usage = estimate_usage(prep.messages, citations.check.text, self.chat_model.count_tokens)
        yield AnswerDone(self._finish(prep, citations.check, usage, started))

    # -- stages ------------------------------------------------------------------------------

    def _prepare(
        self,
        question: str,
        collection: str,
        filters: SearchFilters | None,
        history: Sequence[ChatMessage],
    ) -> _Prepared:
        timer = StageTimer()
        with timer.stage("input_guard"):
            question = self.input_guard.check(question, history)
        standalone = question
        if history and self.max_history_turns:
            with timer.stage("condense"):
                standalone = condense_question(
                    self.chat_model, self.condense_prompt, question, history, self.max_history_turns
                )
        with timer.stage("retrieve"):
            retrieved = self.retriever.search(standalone, collection, top_k=self.top_k, filters=filters)
        prep = _Prepared(standalone, [], [], [], timer, 0)
        if self.refusal.should_refuse(retrieved):
            prep.events.append(GuardrailEvent("refusal_floor", self.refusal.explain(retrieved)))
            prep.early = self._answer(prep, REFUSAL_TEXT, refused=True)
            return prep
        with timer.stage("context_guard"):
            screened, events = self.context_guard.screen(retrieved)
            prep.events.extend(events)
        with timer.stage("prompt"):
            sources = [
                PromptSource(i, s.scored.chunk.title or s.scored.chunk.doc_id, s.text, s.quoted)
                for i, s in enumerate(screened, start=1)
            ]
            fitted = fit_prompt(
                self.prompt, defang_special_tokens(standalone), sources,
                self.chat_model.count_tokens, self.context_window, self.max_tokens,
            )  # fmt: skip
        if fitted.dropped:
            prep.events.append(GuardrailEvent(
                "context_budget", f"{fitted.dropped} lowest-ranked source(s) left out to fit the context window",
            ))  # fmt: skip
        prep.chunks = [s.scored for s in screened[: len(fitted.sources)]]
        prep.messages = fitted.messages
        prep.prompt_tokens = fitted.prompt_tokens
        if not prep.chunks:
            # Every chunk was dropped (injection or budget): nothing left to answer from.
            prep.early = self._answer(prep, REFUSAL_TEXT, refused=True)
        return prep

    def _finish(self, prep: _Prepared, check: CitationCheck, usage: TokenUsage, started: float) -> Answer:
        """The validate stage: citation events, the refusal flag, the cited sources."""
        # A stream could not take back the space before a marker it dropped; the final text can.
        text = (tidy_removed_markers(check.text) if check.invalid else check.text).strip()
        # One event per removed marker, so the count is the number of events of this kind.
        prep.events.extend(
            GuardrailEvent("invalid_citation", f"removed [{n}]: the prompt had {len(prep.chunks)} source(s)")
            for n in check.invalid_numbers
        )
        if not text:
            prep.events.append(GuardrailEvent("empty_output", "the model returned no text"))
            prep.timer.record("validate", started)
            return self._answer(prep, REFUSAL_TEXT, refused=True, usage=usage)
        refused = not check.cited and looks_like_refusal(text)
        citations = [make_citation(n, prep.chunks[n - 1]) for n in check.cited]
        prep.timer.record("validate", started)
        answer = self._answer(prep, text, refused=refused, usage=usage)
        answer.citations = citations
        return answer

    def _fallback(self, prep: _Prepared, exc: LLMUnavailable | LLMTimeout) -> Answer:
        if not self.fallback_sources_only:
            raise exc
        degraded = "llm_timeout" if isinstance(exc, LLMTimeout) else "llm_unavailable"
        log.warning("answer.degraded", reason=degraded, detail=exc.message)
        prep.events.append(GuardrailEvent("llm_fallback", exc.message))
        reason = "the language model timed out" if degraded == "llm_timeout" else "the language model is unavailable"
        answer = self._answer(prep, sources_only_text(prep.chunks, reason), degraded=degraded)
        answer.citations = [make_citation(n, c) for n, c in enumerate(prep.chunks, start=1)]
        return answer

    def _answer(
        self,
        prep: _Prepared,
        text: str,
        *,
        refused: bool = False,
        degraded: str | None = None,
        usage: TokenUsage | None = None,
    ) -> Answer:
        timings = dict(prep.timer.finish())
        timings.update(prep.extra)
        answer = Answer(
            text=text,
            refused=refused,
            degraded=degraded,
            guardrail_events=list(prep.events),
            timings_ms=timings,
            usage=usage or TokenUsage(),
            model=self.chat_model.model_name,
            prompt_version=self.prompt.version,
            question=prep.question,
        )
        log.info("answer.done", refused=refused, degraded=degraded, events=len(prep.events),
                 total_ms=timings.get("total"))  # fmt: skip
        return answer
