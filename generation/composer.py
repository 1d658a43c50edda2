"""Composition, the answer path's last stage: the extractive and the low-confidence answer, a
generated answer's claims and citations (the sources its links must come from, the planted text
it may not repeat), the ``auto`` self-check, refusals and the LLM-failure fallback.

Also the values the three stages hand each other: a request resolved against the defaults
(``Plan``, from ``AnswerDefaults``) and everything decided before generation (``Prepared``).
``Answerer`` (``generation/answerer.py``) wires the stages: ``Preparation``
(``generation/preparation.py``), ``Generator`` (``generation/generate.py``) and this one.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog

from core.answer_request import AnswerRequest, AnswerShape
from core.errors import ConfigurationError, InvalidRequest, LLMTimeout, LLMUnavailable
from core.protocols import ChatModel, GenerationOptions
from core.settings import Settings
from core.types import (
    Answer,
    AnswerMode,
    ChatMessage,
    Claim,
    Confidence,
    FusionMode,
    GuardrailEvent,
    ScoredChunk,
    TokenUsage,
)
from generation.answers import StageTimer, make_citation, sources_only_text
from generation.attribution import Attributor, grounded_share, without_claims
from generation.confidence import LOW_CONFIDENCE_LEAD, ConfidenceSignals
from generation.evidence import Evidence, EvidenceModel, EvidenceScorer
from generation.evidence_models import EvidenceModels
from generation.extractive import best_quotes, cite_claims, compose_extractive, quotable
from generation.guardrails.citations import CitationCheck, tidy_removed_markers
from generation.guardrails.context import mark_sentences
from generation.guardrails.output import RemovedItem, SourceText
from generation.guardrails.refusal import REFUSAL_TEXT, looks_like_refusal
from generation.policy import AnswerPolicy
from generation.prompts import PromptTemplate, load_prompt

log = structlog.get_logger(__name__)
NO_MODEL = "none"  # Answer.model when no model wrote or chose the text (a refusal before generation)


@dataclass(frozen=True, slots=True)
class Plan:
    """An ``AnswerRequest`` resolved against the Answerer's defaults: how this one answer is made.
    ``max_tokens`` is the answer's budget (a request's own cap lowers it); ``prompt`` carries the
    request's instructions, if any. ``fusion`` and ``evidence_model`` are the request's choices (None:
    the retriever's and the scorer's own)."""

    mode: AnswerMode
    top_k: int
    max_tokens: int
    prompt: PromptTemplate
    options: GenerationOptions | None = None
    fusion: FusionMode | None = None
    evidence_model: EvidenceModel | None = None


@dataclass(frozen=True, slots=True)
class AnswerDefaults:
    """What a request that says nothing gets: the configured mode, passage count, budget and prompt."""

    mode: AnswerMode = "generative"
    top_k: int = 6
    max_tokens: int = 256
    prompt: PromptTemplate = field(default_factory=lambda: load_prompt("rag-v1"))

    @classmethod
    def from_settings(cls, settings: Settings, mode: AnswerMode) -> AnswerDefaults:
        return cls(mode, settings.retrieval.top_k, settings.llm.max_tokens, load_prompt(settings.llm.prompt_version))

    def check(self, has_evidence: bool) -> None:
        if self.mode != "generative" and not has_evidence:
            raise ConfigurationError(f"answer mode {self.mode!r} needs an evidence scorer")

    def plan(self, request: AnswerRequest, has_evidence: bool, evidence_models: EvidenceModels | None = None) -> Plan:
        """``request`` resolved against these defaults: its mode, passage count, budget, prompt, fusion and
        evidence model (``evidence_models``: those it may name)."""
        mode = request.mode or self.mode
        if mode != "generative" and not has_evidence:
            raise InvalidRequest(f"answer mode {mode!r} needs the evidence scorer, which this server runs without")
        evidence_model = None
        if request.evidence_model is not None:
            if evidence_models is None or not has_evidence:
                raise InvalidRequest("an evidence model needs the evidence scorer, which this server runs without")
            evidence_model = evidence_models.choose(request.evidence_model)
        prompt = load_prompt(request.prompt_version) if request.prompt_version else self.prompt
        options = request.options
        if options is not None:
            prompt = prompt.with_instructions(options.instructions)
        max_tokens = options.cap(self.max_tokens) if options is not None else self.max_tokens
        return Plan(mode, request.top_k or self.top_k, max_tokens, prompt, options, request.fusion, evidence_model)


@dataclass(slots=True)
class Prepared:
    """Everything decided before generation."""

    question: str
    messages: list[ChatMessage]
    chunks: list[ScoredChunk]  # in prompt order: chunks[n - 1] is source [n]
    events: list[GuardrailEvent]
    timer: StageTimer
    prompt_tokens: int
    plan: Plan
    # Preparation's verdict when no generation is needed: a refusal, or the closest evidence shown
    # with low confidence (the composer writes either).
    stop: str | None = None
    extra: dict[str, float] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)  # every sentence of the sources, best first
    quoted: set[int] = field(default_factory=set)  # sources flagged as carrying injected instructions
    # Sentences the learned detector flagged, by source number: not evidence, not quotable, and
    # what they hold (a link, an address) counts as unsourced in the answer; the rest of the
    # source is used as usual.
    flagged: dict[int, frozenset[str]] = field(default_factory=dict)
    # Planted text by source number (flagged sentences, or what the patterns found in a quoted
    # source): never support for a generated sentence; a sentence repeating it is taken out.
    planted: dict[int, tuple[str, ...]] = field(default_factory=dict)
    echoed_planted: bool = False  # the generation repeated planted text (``auto`` then answers extractively)
    signals: ConfidenceSignals | None = None  # what decided the answer's confidence (None: not assessed)
    confidence: Confidence = "high"

    @property
    def best_evidence(self) -> float | None:
        return self.evidence[0].score if self.evidence else None


def without_sentences(text: str, sentences: frozenset[str] | None) -> str:
    return mark_sentences(text, sorted(sentences), drop=True) if sentences else text


def without_flagged(evidence: list[Evidence], flagged: dict[int, frozenset[str]]) -> list[Evidence]:
    """``evidence`` less the sentences flagged as planted instructions in their source."""
    if not flagged:
        return evidence
    return [e for e in evidence if e.text not in flagged.get(e.source, frozenset())]


class AnswerComposer:
    """Writes the answer from a ``Prepared`` state: every method takes one question's.

    Example::

        composer = AnswerComposer(chat_model, policy, evidence, attributor)
        answer = composer.extractive(prepared)   # or .refusal(prepared), .finish(...) after generation
    """

    def __init__(self, chat_model: ChatModel, policy: AnswerPolicy, evidence: EvidenceScorer | None = None,
                 attributor: Attributor | None = None, fallback_sources_only: bool = True) -> None:
        self.chat_model = chat_model
        self.policy = policy
        self.evidence = evidence
        self.attributor = attributor
        self.fallback_sources_only = fallback_sources_only

    @classmethod
    def from_settings(cls, settings: Settings, chat_model: ChatModel, policy: AnswerPolicy,
                      evidence: EvidenceScorer | None) -> AnswerComposer:
        attributor = Attributor(evidence, settings.answer.support_threshold) if evidence is not None else None
        return cls(chat_model, policy, evidence, attributor, settings.guardrails.fallback_sources_only)

    def answer_shape(self, plan: Plan) -> AnswerShape:
        """What writes the answer ``plan`` describes, and from how much: what the answer cache keys on
        (generation options only where a model uses them)."""
        chosen = plan.evidence_model
        choices = {"fusion": plan.fusion or "", "evidence": chosen.version if chosen is not None else ""}
        if plan.mode == "extractive" and self.evidence is not None:
            version = (chosen or self.evidence.model).version
            return AnswerShape("extractive", plan.top_k, f"extractive:{version}", "-", **choices)
        return AnswerShape(plan.mode, plan.top_k, self.chat_model.model_name, plan.prompt.version,
                           plan.options.fingerprint() if plan.options is not None else "", **choices)

    @staticmethod
    def usable(prep: Prepared) -> list[Evidence]:
        """The evidence an extractive answer may quote: no planted sentence, no quoted (pattern-flagged)
        source, only sources the prompt kept."""
        return [e for e in without_flagged(prep.evidence, prep.flagged)
                if e.source not in prep.quoted and e.source <= len(prep.chunks)]

    def low_confidence(self, prep: Prepared, degraded: str | None = None) -> Answer:
        """The closest evidence sentences (as an extractive answer picks them), quoted and cited, said
        to perhaps not answer the question."""
        closest = [e for e in self.usable(prep) if quotable(e.text)]  # the ratio counts from a quotable one
        _, claims = compose_extractive(closest, self.policy.max_sentences, self.policy.sentence_ratio, prep.chunks)
        if not claims:
            return self.refusal(prep)
        quotes = " ".join(f'"{" ".join(c.text.split())}" [{c.citations[0]}]' for c in claims)
        lead = LOW_CONFIDENCE_LEAD if len(claims) == 1 else LOW_CONFIDENCE_LEAD.replace("passage:", "passages:")
        answer = self.answer(prep, f"{lead} {quotes}", mode="extractive", degraded=degraded)
        answer.claims = claims
        answer.grounded = 1.0
        answer.citations = cite_claims(claims, prep.chunks)
        return answer

    @staticmethod
    def sources_of(prep: Prepared) -> SourceText:
        """The text of the sources shown to the model, less those flagged as carrying injected
        instructions (whole chunks, or the flagged sentences of one): a link planted there is the
        attack, not evidence."""
        return SourceText(text for n, c in enumerate(prep.chunks, start=1) if n not in prep.quoted
                          for text in (c.chunk.title, without_sentences(c.chunk.text, prep.flagged.get(n))))

    @staticmethod
    def note_unsourced(prep: Prepared, removed: Sequence[RemovedItem]) -> None:
        """One event per removed item, so the count of this kind is the number of items."""
        for item in removed:
            log.warning("guardrail.output_unsourced_link", item_kind=item.kind, item=item.text[:200])
            prep.events.append(GuardrailEvent("output_unsourced_link", item.describe()))

    def finish(self, prep: Prepared, check: CitationCheck, usage: TokenUsage, started: float,
                degenerate: bool = False) -> Answer:
        """The validate stage: citation events, the refusal flag, claims aligned to source sentences."""
        # A stream could not take back the space before a marker it dropped; the final text can.
        text = (tidy_removed_markers(check.text) if check.invalid else check.text).strip()
        # One event per removed marker, so the count is the number of events of this kind.
        prep.events.extend(
            GuardrailEvent("invalid_citation", f"removed [{n}]: the prompt had {len(prep.chunks)} source(s)")
            for n in check.invalid_numbers
        )
        if degenerate:
            prep.events.append(GuardrailEvent("degenerate_output", "the model repeated itself; the loop was cut"))
        if not text:
            prep.events.append(GuardrailEvent("empty_output", "the model returned no text"))
            prep.timer.record("validate", started)
            return self.answer(prep, REFUSAL_TEXT, refused=True, usage=usage, mode="refusal")
        refused = not check.cited and looks_like_refusal(text)
        claims: list[Claim] = []
        if self.attributor is not None and not refused:
            attribution = self.attributor.attribute_screened(text, prep.chunks, prep.planted)
            claims = attribution.claims
            if attribution.echoed:
                text, claims = self.drop_echoes(prep, text, claims, attribution.echoed)
                if not text:
                    prep.timer.record("validate", started)
                    return self.extractive(prep, degraded="planted_text") if prep.evidence else self.refusal(prep)
        prep.timer.record("validate", started)
        answer = self.answer(prep, text, refused=refused, usage=usage, mode="refusal" if refused else "generative")
        quotes = best_quotes(without_flagged(prep.evidence, prep.flagged))
        answer.citations = cite_claims(claims, prep.chunks, quotes, also=check.cited)
        answer.claims = claims
        answer.grounded = grounded_share(claims)
        return answer

    @staticmethod
    def drop_echoes(prep: Prepared, text: str, claims: list[Claim], echoed: frozenset[str]
                     ) -> tuple[str, list[Claim]]:
        """The answer less its sentences that repeat planted text (what a planted order asked for)."""
        log.warning("guardrail.output_planted_text", sentences=len(echoed))
        prep.events.append(GuardrailEvent("output_planted_text", f"{len(echoed)} sentence(s) repeating text "
                                          "planted in a source taken out of the answer"))  # fmt: skip
        prep.echoed_planted = True
        return without_claims(text, echoed).strip(), [c for c in claims if c.text not in echoed]

    def review(self, prep: Prepared, answer: Answer, degenerate: bool) -> Answer:
        """The ``auto`` self-check: a loop, an ungrounded answer, one that repeated planted text or an
        unwarranted refusal gives way."""
        reason = self.policy.review(mode=prep.plan.mode, grounded=answer.grounded, refused=answer.refused,
                                    degenerate=degenerate, best_evidence=prep.best_evidence,
                                    echoed_planted=prep.echoed_planted)
        if reason is None:
            return answer
        log.info("answer.self_check", reason=reason, grounded=answer.grounded, best_evidence=prep.best_evidence)
        prep.events.append(GuardrailEvent("self_check", f"{reason}: answered from the evidence instead"))
        replacement = self.extractive(prep, degraded=reason)
        replacement.usage = answer.usage
        return replacement

    def extractive(self, prep: Prepared, degraded: str | None = None) -> Answer:
        if prep.confidence == "low":
            return self.low_confidence(prep, degraded)
        started = time.perf_counter()
        text, claims = compose_extractive(self.usable(prep), self.policy.max_sentences, self.policy.sentence_ratio,
                                          prep.chunks)
        if not claims:
            return self.refusal(prep)
        prep.timer.record("compose", started)
        answer = self.answer(prep, text, degraded=degraded, mode="extractive")
        answer.claims = claims
        answer.grounded = 1.0
        answer.citations = cite_claims(claims, prep.chunks)
        return answer

    def refusal(self, prep: Prepared) -> Answer:
        """A refusal decided before any generation: it names no model (none ran)."""
        return self.answer(prep, REFUSAL_TEXT, refused=True, mode="refusal", model=NO_MODEL)

    def fallback(self, prep: Prepared, exc: LLMUnavailable | LLMTimeout) -> Answer:
        if not self.fallback_sources_only:
            raise exc
        degraded = "llm_timeout" if isinstance(exc, LLMTimeout) else "llm_unavailable"
        log.warning("answer.degraded", reason=degraded, detail=exc.message)
        prep.events.append(GuardrailEvent("llm_fallback", exc.message))
        if prep.evidence:
            return self.extractive(prep, degraded=degraded)
        reason = "the language model timed out" if degraded == "llm_timeout" else "the language model is unavailable"
        answer = self.answer(prep, sources_only_text(prep.chunks, reason), degraded=degraded, mode="sources")
        answer.citations = [make_citation(n, c) for n, c in enumerate(prep.chunks, start=1)]
        return answer

    def answer(
        self,
        prep: Prepared,
        text: str,
        *,
        refused: bool = False,
        degraded: str | None = None,
        usage: TokenUsage | None = None,
        mode: str = "generative",
        model: str | None = None,
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
            model=model or (self.answer_shape(prep.plan).model if mode == "extractive" else self.chat_model.model_name),
            prompt_version=prep.plan.prompt.version if mode != "extractive" else "-",
            question=prep.question,
            mode=mode,
            confidence="none" if refused else prep.confidence,
        )
        log.info("answer.done", mode=mode, refused=refused, degraded=degraded, events=len(prep.events),
                 total_ms=timings.get("total"))  # fmt: skip
        return answer
