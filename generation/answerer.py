"""The Answerer: question in, cited answer out, in three stages.

1. **Preparation** (``generation/preparation.py``): guards, condensing, retrieval, context
   screening, evidence and its confidence, prompt fitting. It may stop the question there: a
   refusal, or (extractive) a low-confidence answer.
2. **Generation** (``generation/generate.py``): one streamed path from the chat model, with the
   repetition guard, the output filter and the citation filter; a non-streamed answer is the
   stream collected.
3. **Composition** (``generation/composer.py``): the extractive answer, claims aligned to source
   sentences, the ``auto`` self-check, refusals, the LLM-failure fallback.

Everything that varies per request comes in the ``AnswerRequest``; ``plan`` resolves it against
the configured defaults. The parts are long-lived and shared by every request, never copied.
"""

from __future__ import annotations

from collections.abc import Iterator

from core.answer_request import AnswerRequest, AnswerShape
from core.protocols import ChatModel, Embedder, Retriever, SparseEncoder
from core.settings import Settings
from core.tracing import failed, start_span, use_span
from core.types import Answer
from generation.answers import AnswerDelta, AnswerDone, AnswerEvent
from generation.composer import AnswerComposer, AnswerDefaults, Plan, Prepared
from generation.generate import Generator
from generation.preparation import Preparation, Vectors


class Answerer:
    """Answers questions from a collection with citations, refusals and guardrails.

    ``Answer.question`` is the question as answered: for a follow-up, its standalone rewrite.

    Example::

        answerer = Answerer.from_settings(settings, retriever, embedder=embedder, sparse=sparse,
                                          instruction_vectors=encoder.embed_documents)  # bootstrap builds both
        answer = answerer.ask(AnswerRequest("When was the bridge built?", "docs"))
        for event in answerer.ask_stream(AnswerRequest("And who built it?", "docs", history=turns)):
            ...  # AnswerDelta(text) events, then AnswerDone(answer)
    """

    def __init__(self, preparation: Preparation, composer: AnswerComposer, defaults: AnswerDefaults) -> None:
        defaults.check(has_evidence=preparation.evidence is not None)
        self.preparation = preparation
        self.composer = composer
        self.generator = Generator(composer.chat_model, composer)
        self.defaults = defaults

    @classmethod
    def from_settings(cls, settings: Settings, retriever: Retriever, chat_model: ChatModel | None = None, *,
                      embedder: Embedder | None = None, sparse: SparseEncoder | None = None,
                      instruction_vectors: Vectors | None = None) -> Answerer:
        """Builds the chat model from ``settings.llm`` unless one is handed in (to share it); with the
        ``embedder`` and ``sparse`` encoder it also scores evidence and aligns generated sentences
        (``Preparation.from_settings`` says how)."""
        preparation = Preparation.from_settings(settings, retriever, chat_model, embedder=embedder, sparse=sparse,
                                                instruction_vectors=instruction_vectors)
        composer = AnswerComposer.from_settings(settings, preparation.chat_model, preparation.policy,
                                                preparation.evidence)
        return cls(preparation, composer, AnswerDefaults.from_settings(settings, preparation.policy.mode))

    # The parts, as callers and tests read them.
    @property
    def chat_model(self) -> ChatModel:
        return self.composer.chat_model

    @property
    def retriever(self) -> Retriever:
        return self.preparation.retriever

    @property
    def top_k(self) -> int:
        return self.defaults.top_k

    @property
    def max_tokens(self) -> int:
        return self.defaults.max_tokens

    @property
    def mode(self) -> str:
        return self.defaults.mode

    def plan(self, request: AnswerRequest) -> Plan:
        """``request`` resolved against the defaults: its mode, passage count, budget, prompt, fusion and
        evidence model."""
        return self.defaults.plan(request, has_evidence=self.preparation.evidence is not None,
                                  evidence_models=self.preparation.evidence_models)

    def shape(self, request: AnswerRequest) -> AnswerShape:
        """What shapes ``request``'s answer beyond its own words: the cache keys on it."""
        return self.composer.answer_shape(self.plan(request))

    def ask(self, request: AnswerRequest) -> Answer:
        """The answer: the stream's last event (nothing is shown on the way, so a model failing
        mid-answer still falls back)."""
        *_, done = self._events(request, shown=False)
        assert isinstance(done, AnswerDone)
        return done.answer

    def ask_stream(self, request: AnswerRequest) -> Iterator[AnswerEvent]:
        """Token deltas as they come, then one ``AnswerDone`` with the validated Answer.

        Preparation (guards, retrieval) runs on the first ``next()``; a guardrail rejection
        raises there, before any event. The final answer's text is authoritative: when the
        self-check (``auto``) replaces a generation, it differs from the deltas streamed.
        """
        return self._events(request, shown=True)

    def assess(self, request: AnswerRequest) -> Prepared:
        """Everything decided before an answer is written (guards, retrieval, screening, evidence and
        its ``signals`` and ``confidence``), for evaluations that sweep the floors offline."""
        return self.preparation.prepare(request, self.plan(request))

    def _events(self, request: AnswerRequest, shown: bool) -> Iterator[AnswerEvent]:
        # One span over the answer, held across the yields but never current there (the next step may
        # run in another thread's context); current while preparing, so the stages' spans land under it.
        root = start_span("answer", {"ragqa.collection": request.collection})
        try:
            with use_span(root):
                prep = self.assess(request)
            for event in self._answer(prep, shown):
                if isinstance(event, AnswerDone):
                    answer = event.answer
                    root.set_attributes({"answer.mode": answer.mode, "answer.refused": answer.refused,
                                         "answer.degraded": answer.degraded or "none",
                                         "answer.confidence": answer.confidence or "none",
                                         "answer.citations": len(answer.citations)})
                yield event
        except BaseException as exc:
            failed(root, exc)
            raise
        finally:
            root.end()

    def _answer(self, prep: Prepared, shown: bool) -> Iterator[AnswerEvent]:
        if prep.stop is None and prep.plan.mode != "extractive":
            yield from self.generator.stream(prep, shown=shown)
            return
        if prep.stop == "refusal":
            final = self.composer.refusal(prep)
        elif prep.stop == "low_confidence":
            final = self.composer.low_confidence(prep)
        else:
            final = self.composer.extractive(prep)
        yield AnswerDelta(final.text)
        yield AnswerDone(final)
