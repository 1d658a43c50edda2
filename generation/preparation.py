"""Preparation, the answer path's first stage: everything decided before an answer is written.

Stages (each timed in ``Answer.timings_ms``): ``input_guard`` -> ``condense`` (follow-ups only)
-> ``retrieve`` -> ``context_guard`` -> ``evidence`` (with the confidence decision) -> ``prompt``.
Retrieval under the dense floor with nothing to weigh, sources all taken out as injected, or
evidence that nothing answers the question stop here as a refusal; weak evidence in extractive
mode stops as a low-confidence answer (``Prepared.stop``; the composer writes either).

    preparation = Preparation.from_settings(settings, retriever, chat_model, policy, embedder=e, sparse=s)
    prepared = preparation.prepare(request, plan)
    prepared.chunks, prepared.evidence[:3], prepared.confidence, prepared.messages
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import structlog

from core.answer_request import AnswerRequest
from core.guardrail_settings import GuardrailSettings
from core.protocols import ChatModel, Embedder, Retriever, SparseEncoder
from core.settings import Settings
from core.types import Confidence, GuardrailEvent
from generation.answerability import FEATURES as ANSWERABILITY_FEATURES
from generation.answerability import AnswerabilityModel, answerability_features
from generation.answers import StageTimer
from generation.budget import fit_prompt
from generation.composer import Plan, Prepared, without_flagged
from generation.condense import condense_question
from generation.confidence import ConfidencePolicy, ConfidenceSignals
from generation.evidence import EvidenceScorer
from generation.evidence_models import EvidenceModels
from generation.factory import build_chat_model
from generation.followups import resolve_follow_up
from generation.guardrails.context import ContextGuard
from generation.guardrails.input import InputGuard
from generation.guardrails.instructions import Vectors
from generation.guardrails.refusal import RefusalPolicy
from generation.policy import AnswerPolicy
from generation.prompts import PromptSource, PromptTemplate, defang_special_tokens, load_prompt

log = structlog.get_logger(__name__)
_TERM_COVERAGE = ANSWERABILITY_FEATURES.index("term_coverage")
_NAME_COVERAGE = ANSWERABILITY_FEATURES.index("name_coverage")

__all__ = ["Preparation", "Vectors"]


class Preparation:
    """Guards, condensing, retrieval, context screening, evidence, answerability, prompt fitting."""

    def __init__(
        self,
        retriever: Retriever,
        chat_model: ChatModel,
        *,
        policy: AnswerPolicy | None = None,
        condense_prompt: PromptTemplate | None = None,
        input_guard: InputGuard | None = None,
        context_guard: ContextGuard | None = None,
        refusal: RefusalPolicy | None = None,
        context_window: int = 2048,
        max_history_turns: int = 6,
        evidence: EvidenceScorer | None = None,
        answerability: AnswerabilityModel | None = None,
        evidence_models: EvidenceModels | None = None,
    ) -> None:
        self.retriever = retriever
        self.chat_model = chat_model  # condenses follow-ups (when a model answers) and counts prompt tokens
        self.policy = policy or AnswerPolicy()
        self.condense_prompt = condense_prompt or load_prompt("condense-v1")
        self.input_guard = input_guard or InputGuard()
        self.context_guard = context_guard or ContextGuard()
        self.refusal = refusal or RefusalPolicy()
        self.context_window = context_window
        self.max_history_turns = max_history_turns
        self.evidence = evidence
        self.answerability = answerability
        # The evidence models a request may name (the scorer's own among them); None without a scorer.
        self.evidence_models = evidence_models or (EvidenceModels.only(evidence.model) if evidence else None)

    @classmethod
    def from_settings(cls, settings: Settings, retriever: Retriever, chat_model: ChatModel | None = None, *,
                      embedder: Embedder | None = None, sparse: SparseEncoder | None = None,
                      instruction_vectors: Vectors | None = None) -> Preparation:
        """Builds the chat model from ``settings.llm`` unless one is handed in (to share it). With the
        ``embedder`` and ``sparse`` encoder it scores evidence and decides confidence (and the
        configured answer mode applies; without them answers are generated). ``instruction_vectors``
        (``OnnxEmbedder.first_layers(...).embed_documents``: the encoder the planted-instruction
        detector was fit on) turns that detector on; without it the context guard runs its patterns
        alone."""
        guards, llm = settings.guardrails, settings.llm
        evidence = answerability = models = None
        policy = AnswerPolicy(mode="generative")
        if embedder is not None and sparse is not None:
            models = EvidenceModels.from_settings(settings.answer)
            evidence = EvidenceScorer(embedder, sparse, models.default,
                                      max_embedded=settings.answer.max_embedded_sentences)
            answerability = AnswerabilityModel.load()
            policy = AnswerPolicy.from_settings(settings.answer, has_llm_server=bool(llm.base_url))
        # The extractive mode never calls the model: the embedded one loads on first use only.
        chat_model = chat_model or build_chat_model(llm, lazy=policy.mode == "extractive")
        return cls(
            retriever, chat_model, policy=policy,
            # The question's vector through the query cache: retrieval then finds it there.
            input_guard=InputGuard.from_settings(guards, query_vectors(embedder) if evidence is not None else None),
            context_guard=ContextGuard.from_settings(guards, _detector_vectors(guards, instruction_vectors)),
            refusal=RefusalPolicy.from_settings(guards), context_window=llm.context_window,
            max_history_turns=llm.max_history_turns, evidence=evidence, answerability=answerability,
            evidence_models=models,
        )  # fmt: skip

    def prepare(self, request: AnswerRequest, plan: Plan) -> Prepared:
        question, collection, history = request.question, request.collection, request.history
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
            retrieved = self.retriever.search(standalone, collection, top_k=plan.top_k, filters=request.filters,
                                              mode=plan.fusion)
        prep = Prepared(standalone, [], [], [], timer, 0, plan)
        below_dense_floor = self.refusal.should_refuse(retrieved)
        # Under the dense floor the evidence still decides (a keyword question, words the document
        # puts otherwise); without an evidence scorer, or with nothing retrieved, it refuses here.
        if below_dense_floor and (not retrieved or self.confidence_policy() is None):
            prep.events.append(GuardrailEvent("refusal_floor", self.refusal.explain(retrieved)))
            return _stopped(prep, "refusal")
        with timer.stage("context_guard"):
            screened, events = self.context_guard.screen(retrieved)
            prep.events.extend(events)
        prep.chunks = [s.scored for s in screened]
        prep.quoted = {n for n, s in enumerate(screened, start=1) if s.quoted}
        prep.flagged = {n: frozenset(s.flagged) for n, s in enumerate(screened, start=1) if s.flagged}
        prep.planted = {n: s.planted for n, s in enumerate(screened, start=1) if s.planted}
        if not prep.chunks:  # every chunk was dropped (injection): nothing left to answer from
            return _stopped(prep, "refusal")
        if self.evidence is not None:
            with timer.stage("evidence"):
                # A flagged sentence is a planted order, not evidence: it neither answers nor quotes.
                ranked = self.evidence.rank(standalone, prep.chunks, plan.evidence_model)
                prep.evidence = without_flagged(ranked, prep.flagged)
                if shown:  # "tell me more": what the last answer quoted goes last (a stable sort), so others show
                    prep.evidence.sort(key=lambda e: " ".join(e.text.split()) in shown)
                confidence, why = self.confidence(standalone, prep, below_dense_floor)
            if confidence == "none":
                prep.events.append(GuardrailEvent("evidence_floor", f"nothing retrieved answers the question ({why})"))
                return _stopped(prep, "refusal")
            if confidence == "low":
                prep.events.append(GuardrailEvent("low_confidence", f"the evidence may not answer it ({why})"))
                if plan.mode == "extractive":  # a model, where there is one, still writes the answer
                    return _stopped(prep, "low_confidence")
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
            return _stopped(prep, "refusal")
        return prep

    def confidence_policy(self) -> ConfidencePolicy | None:
        """The floors in force; None when the answerability check is off (``min_evidence=0``)."""
        if self.answerability is None or self.evidence is None:
            return None
        floor = self.answerability.floor if self.policy.min_evidence is None else self.policy.min_evidence
        if floor <= 0:
            return None
        return ConfidencePolicy(confident_at=floor, low_at=min(self.policy.low_confidence_floor, floor),
                                min_dense=self.refusal.min_dense_score,
                                term_coverage=self.policy.low_confidence_term_coverage,
                                unrelated_below=self.policy.unrelated_dense_floor)

    def confidence(self, question: str, prep: Prepared, below_dense_floor: bool) -> tuple[Confidence, str]:
        """How sure an answer from this evidence can be (``generation/confidence.py``), and why."""
        policy = self.confidence_policy()
        if policy is None or self.answerability is None or self.evidence is None:
            return ("none", "the best chunk is under the dense floor") if below_dense_floor else ("high", "")
        features = answerability_features(question, prep.chunks, prep.evidence, self.evidence)
        dense = [c.dense_score for c in prep.chunks if c.dense_score is not None]
        signals = ConfidenceSignals(self.answerability.probability(features), max(dense) if dense else None,
                                    float(features[_TERM_COVERAGE]), float(features[_NAME_COVERAGE]))  # fmt: skip
        prep.signals, prep.confidence = signals, policy.decide(signals)
        return prep.confidence, signals.describe()


def _stopped(prep: Prepared, stop: str) -> Prepared:
    prep.stop = stop
    return prep


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
