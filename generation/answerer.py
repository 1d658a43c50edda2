"""The Answerer: question in, cited answer out.

Stages (each timed in ``Answer.timings_ms``): ``input_guard`` -> ``condense`` (follow-ups
only) -> ``retrieve`` -> ``context_guard`` -> ``evidence`` -> ``prompt`` -> ``generate`` ->
``validate`` (citations, then each sentence aligned to its supporting source sentence).
Retrieval under the dense floor, or sources with no sentence likely to answer the question,
answer "the documents don't say" without calling the LLM. ``extractive`` answers quote the best
evidence sentences and call no LLM; ``auto`` answers replace a generation that loops, is not
grounded in the sources, or refuses against strong evidence with the extractive answer. An
unavailable LLM gives the extractive answer (or, without an evidence scorer, the sources).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import structlog

from core.answer_request import AnswerRequest, AnswerShape
from core.errors import ConfigurationError, InvalidRequest, LLMTimeout, LLMUnavailable
from core.guardrail_settings import GuardrailSettings
from core.protocols import ChatModel, Embedder, GenerationOptions, Retriever, SparseEncoder
from core.settings import Settings
from core.types import Answer, GuardrailEvent, TokenUsage
from generation.answerability import AnswerabilityModel
from generation.answers import (
    AnswerDelta,
    AnswerDone,
    AnswerEvent,
    StageTimer,
)
from generation.attribution import Attributor
from generation.budget import fit_prompt
from generation.chat import estimate_usage
from generation.composer import AnswerComposer, Plan, Prepared, without_flagged
from generation.condense import condense_question
from generation.evidence import EvidenceModel, EvidenceScorer
from generation.factory import build_chat_model
from generation.followups import resolve_follow_up
from generation.guardrails.citations import (
    CitationStreamFilter,
    validate_citations,
)
from generation.guardrails.context import ContextGuard
from generation.guardrails.input import InputGuard
from generation.guardrails.instructions import Vectors
from generation.guardrails.output import OutputStreamFilter, screen_output
from generation.guardrails.refusal import RefusalPolicy
from generation.policy import AnswerPolicy
from generation.prompts import PromptSource, PromptTemplate, defang_special_tokens, load_prompt
from generation.repetition import RepetitionGuard

log = structlog.get_logger(__name__)


def _detector_vectors(guards: GuardrailSettings, vectors: Vectors | None) -> Vectors | None:
    """``vectors``, saying so in the log when the settings ask for the learned detector and none came."""
    if vectors is None and guards.detect_instructions and guards.context_action != "off":
        log.warning("guardrail.instruction_detector_off",
                    reason="no instruction_vectors handed to Answerer.from_settings: the context guard runs "
                           "its patterns alone")  # fmt: skip
    return vectors


def query_vectors(embedder: Embedder | None) -> Callable[[Sequence[str]], np.ndarray] | None:
    """Embeddings of questions through the embedder's query cache (``embed_query``)."""
    if embedder is None:
        return None
    return lambda texts: np.vstack([embedder.embed_query(text) for text in texts])


class Answerer(AnswerComposer):
    """Answers questions from a collection with citations, refusals and guardrails.

    ``Answer.question`` is the question as answered: for a follow-up, its standalone rewrite.
    Without an ``evidence`` scorer (and ``attributor``) the answer is always generated and its
    sentences are not aligned to sources; ``from_settings`` builds both when given the embedder.

    Example::

        answerer = Answerer.from_settings(settings, retriever, embedder=embedder, sparse=sparse,
                                          instruction_vectors=encoder.embed_documents)  # bootstrap builds both
        answer = answerer.ask(AnswerRequest("When was the bridge built?", "docs"))
        for event in answerer.ask_stream(AnswerRequest("And who built it?", "docs", history=turns)):
            ...  # AnswerDelta(text) events, then AnswerDone(answer)
        answerer.ask(AnswerRequest("When?", "docs", options=GenerationOptions(max_tokens=20), mode="generative"))

    Everything that varies per request (passage count, mode, prompt version, a client's options)
    comes in the ``AnswerRequest``; ``plan`` resolves it against the configured defaults, and the
    long-lived parts are shared by every request, never copied.
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
        evidence: EvidenceScorer | None = None,
        attributor: Attributor | None = None,
        answerability: AnswerabilityModel | None = None,
        policy: AnswerPolicy | None = None,
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
        self.evidence = evidence
        self.attributor = attributor
        self.answerability = answerability
        self.policy = policy or AnswerPolicy()
        if self.policy.mode != "generative" and evidence is None:
            raise ConfigurationError(f"answer mode {self.policy.mode!r} needs an evidence scorer")

    @classmethod
    def from_settings(cls, settings: Settings, retriever: Retriever, chat_model: ChatModel | None = None, *,
                      embedder: Embedder | None = None, sparse: SparseEncoder | None = None,
                      instruction_vectors: Vectors | None = None) -> Answerer:
        """Builds the chat model from ``settings.llm`` unless one is handed in (to share it); with the
        ``embedder`` and ``sparse`` encoder it also scores evidence and aligns generated sentences.
        ``instruction_vectors`` (``OnnxEmbedder.first_layers(...).embed_documents``: the encoder the
        planted-instruction detector was fit on) turns that detector on; without it the context
        guard runs its patterns alone."""
        llm, guards, answer = settings.llm, settings.guardrails, settings.answer
        evidence = attributor = answerability = None
        if embedder is not None and sparse is not None:
            evidence = EvidenceScorer(embedder, sparse, EvidenceModel.load(),
                                      max_embedded=answer.max_embedded_sentences)
            attributor = Attributor(evidence, answer.support_threshold)
            answerability = AnswerabilityModel.load()
        policy = AnswerPolicy.from_settings(answer, has_llm_server=bool(llm.base_url))
        if evidence is None:
            policy = AnswerPolicy(mode="generative")
        return cls(
            retriever,
            # The extractive mode never calls the model: the embedded one loads on first use only.
            chat_model or build_chat_model(llm, lazy=policy.mode == "extractive"),
            prompt=load_prompt(llm.prompt_version),
            # The question's vector through the query cache: retrieval then finds it there.
            input_guard=InputGuard.from_settings(guards, query_vectors(embedder) if evidence is not None else None),
            context_guard=ContextGuard.from_settings(guards, _detector_vectors(guards, instruction_vectors)),
            refusal=RefusalPolicy.from_settings(guards),
            top_k=settings.retrieval.top_k,
            max_tokens=llm.max_tokens,
            context_window=llm.context_window,
            max_history_turns=llm.max_history_turns,
            fallback_sources_only=guards.fallback_sources_only,
            evidence=evidence,
            attributor=attributor,
            answerability=answerability,
            policy=policy,
        )

    def plan(self, request: AnswerRequest) -> Plan:
        """``request`` resolved against the defaults: its mode, passage count, budget and prompt."""
        mode = request.mode or self.policy.mode
        if mode != "generative" and self.evidence is None:
            raise InvalidRequest(f"answer mode {mode!r} needs the evidence scorer, which this server runs without")
        prompt = load_prompt(request.prompt_version) if request.prompt_version else self.prompt
        options = request.options
        if options is not None:
            prompt = prompt.with_instructions(options.instructions)
        max_tokens = options.cap(self.max_tokens) if options is not None else self.max_tokens
        return Plan(mode, request.top_k or self.top_k, max_tokens, prompt, options)

    def shape(self, request: AnswerRequest) -> AnswerShape:
        """What shapes ``request``'s answer beyond its own words: the cache keys on it."""
        return self.answer_shape(self.plan(request))

    # -- the two entry points ------------------------------------------------------------------

    def ask(self, request: AnswerRequest) -> Answer:
        prep = self._prepare(request)
        if prep.early is not None:
            return prep.early
        if prep.plan.mode == "extractive":
            return self._extractive(prep)
        try:
            with prep.timer.stage("generate"):
                text, usage = self.chat_model.complete(prep.messages, prep.plan.max_tokens,
                                                       **_model_options(prep.plan))
        except (LLMUnavailable, LLMTimeout) as exc:
            return self._fallback(prep, exc)
        started = time.perf_counter()
        guard = RepetitionGuard()
        degenerate = guard.feed(text) or guard.finish()
        if degenerate:
            text = guard.trim(text)
        screened = screen_output(text, self._sources_of(prep))
        self._note_unsourced(prep, screened.removed)
        check = validate_citations(screened.text.strip(), len(prep.chunks))
        answer = self._finish(prep, check, usage, started, degenerate)
        return self._review(prep, answer, degenerate)

    def ask_stream(self, request: AnswerRequest) -> Iterator[AnswerEvent]:
        """Token deltas as they come, then one ``AnswerDone`` with the validated Answer.

        Preparation (guards, retrieval) runs on the first ``next()``; a guardrail rejection
        raises there, before any event. The final answer's text is authoritative: when the
        self-check (``auto``) replaces a generation, it differs from the deltas streamed.
        """
        prep = self._prepare(request)
        if prep.early is not None or prep.plan.mode == "extractive":
            final = prep.early or self._extractive(prep)
            yield AnswerDelta(final.text)
            yield AnswerDone(final)
            return
        citations = CitationStreamFilter(len(prep.chunks))
        # Links, addresses and code no source holds are taken out before citations are checked,
        # as ask() does, so the streamed text and the final one are the same.
        screen = OutputStreamFilter(self._sources_of(prep))
        guard = RepetitionGuard()
        degenerate = False
        started = time.perf_counter()
        stream = self.chat_model.stream(prep.messages, prep.plan.max_tokens, **_model_options(prep.plan))
        first = True
        try:
            with prep.timer.stage("generate"):
                for delta in stream:
                    if first:
                        first = False
                        prep.extra["first_token"] = round((time.perf_counter() - started) * 1000, 3)
                    if guard.feed(delta):
                        degenerate = True  # stop paying for a loop; the rest is trimmed below
                        break
                    text = citations.feed(screen.feed(delta))
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
        tail = citations.feed(screen.flush()) + citations.flush()
        self._note_unsourced(prep, screen.removed)
        if tail and not degenerate:
            yield AnswerDelta(tail)
        degenerate = degenerate or guard.finish()
        usage = getattr(stream, "usage", None)
        if not isinstance(usage, TokenUsage):
            usage = estimate_usage(prep.messages, citations.check.text, self.chat_model.count_tokens)
        check = citations.check
        if degenerate:
            check = validate_citations(guard.trim(check.text), len(prep.chunks))
        answer = self._finish(prep, check, usage, started, degenerate)
        yield AnswerDone(self._review(prep, answer, degenerate))

    def assess(self, request: AnswerRequest) -> Prepared:
        """Everything decided before an answer is written (guards, retrieval, screening, evidence and
        its ``signals`` and ``confidence``), for evaluations that sweep the floors offline."""
        return self._prepare(request)

    # -- stages ------------------------------------------------------------------------------

    def _prepare(self, request: AnswerRequest) -> Prepared:
        plan = self.plan(request)
        question, collection, filters, history = request.question, request.collection, request.filters, request.history
        timer = StageTimer()
        with timer.stage("input_guard"):
            question = self.input_guard.check(question, history)
        standalone, shown = question, frozenset[str]()
        if history and self.max_history_turns:
            with timer.stage("condense"):
                if plan.mode == "extractive":  # no model loaded or called: the conversation decides
                    follow = resolve_follow_up(question, history, self.max_history_turns)
                    standalone, shown = follow.query, follow.shown
                else:
                    standalone = condense_question(
                        self.chat_model, self.condense_prompt, question, history, self.max_history_turns
                    )
        with timer.stage("retrieve"):
            retrieved = self.retriever.search(standalone, collection, top_k=plan.top_k, filters=filters)
        prep = Prepared(standalone, [], [], [], timer, 0, plan)
        below_dense_floor = self.refusal.should_refuse(retrieved)
        # Under the dense floor the evidence still decides (a keyword question, words the document
        # puts otherwise); without an evidence scorer, or with nothing retrieved, it refuses here.
        if below_dense_floor and (not retrieved or self._confidence_policy() is None):
            prep.events.append(GuardrailEvent("refusal_floor", self.refusal.explain(retrieved)))
            prep.early = self._refusal(prep)
            return prep
        with timer.stage("context_guard"):
            screened, events = self.context_guard.screen(retrieved)
            prep.events.extend(events)
        prep.chunks = [s.scored for s in screened]
        prep.quoted = {n for n, s in enumerate(screened, start=1) if s.quoted}
        prep.flagged = {n: frozenset(s.flagged) for n, s in enumerate(screened, start=1) if s.flagged}
        prep.planted = {n: s.planted for n, s in enumerate(screened, start=1) if s.planted}
        if not prep.chunks:
            # Every chunk was dropped (injection): nothing left to answer from.
            prep.early = self._refusal(prep)
            return prep
        if self.evidence is not None:
            with timer.stage("evidence"):
                # A flagged sentence is a planted order, not evidence: it neither answers nor quotes.
                prep.evidence = without_flagged(self.evidence.rank(standalone, prep.chunks), prep.flagged)
                if shown:  # "tell me more": what the last answer quoted goes last (a stable sort), so others show
                    prep.evidence.sort(key=lambda e: " ".join(e.text.split()) in shown)
                confidence, why = self._confidence(standalone, prep, below_dense_floor)
            if confidence == "none":
                prep.events.append(GuardrailEvent("evidence_floor", f"nothing retrieved answers the question ({why})"))
                prep.early = self._refusal(prep)
                return prep
            if confidence == "low":
                prep.events.append(GuardrailEvent("low_confidence", f"the evidence may not answer it ({why})"))
                if plan.mode == "extractive":  # a model, where there is one, still writes the answer
                    prep.early = self._low_confidence(prep)
                    return prep
        if plan.mode == "extractive":
            return prep
        with timer.stage("prompt"):
            sources = [
                PromptSource(i, s.scored.chunk.title or s.scored.chunk.doc_id, s.text, s.marked)
                for i, s in enumerate(screened, start=1)
            ]
            fitted = fit_prompt(
                plan.prompt, defang_special_tokens(standalone), sources,
                self.chat_model.count_tokens, self.context_window, plan.max_tokens,
            )  # fmt: skip
        if fitted.dropped:
            prep.events.append(GuardrailEvent(
                "context_budget", f"{fitted.dropped} lowest-ranked source(s) left out to fit the context window",
            ))  # fmt: skip
        prep.chunks = prep.chunks[: len(fitted.sources)]
        prep.evidence = [e for e in prep.evidence if e.source <= len(prep.chunks)]
        prep.messages = fitted.messages
        prep.prompt_tokens = fitted.prompt_tokens
        if not prep.chunks:
            prep.early = self._refusal(prep)
        return prep


def _model_options(plan: Plan) -> dict[str, GenerationOptions]:
    # Passed only when a request set some: chat models written before options keep working for
    # every request that sets none.
    return {"options": plan.options} if plan.options is not None else {}
