"""An Answerer assembled by hand from its three stages, for tests that hand it fakes or chosen
parts (a retriever returning fixed chunks, a scripted model, one guard): production builds it
with ``Answerer.from_settings``."""

from __future__ import annotations

from core.protocols import ChatModel, Retriever
from generation.answerability import AnswerabilityModel
from generation.answerer import Answerer
from generation.attribution import Attributor
from generation.composer import AnswerComposer, AnswerDefaults
from generation.evidence import EvidenceScorer
from generation.evidence_models import EvidenceModels
from generation.guardrails.context import ContextGuard
from generation.guardrails.input import InputGuard
from generation.guardrails.refusal import RefusalPolicy
from generation.policy import AnswerPolicy
from generation.preparation import Preparation
from generation.prompts import PromptTemplate, load_prompt


def assemble_answerer(
    retriever: Retriever,
    chat_model: ChatModel,
    *,
    prompt: PromptTemplate | None = None,
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
    evidence_models: EvidenceModels | None = None,
) -> Answerer:
    policy = policy or AnswerPolicy()
    preparation = Preparation(retriever, chat_model, policy=policy, input_guard=input_guard,
                              context_guard=context_guard, refusal=refusal, context_window=context_window,
                              max_history_turns=max_history_turns, evidence=evidence, answerability=answerability,
                              evidence_models=evidence_models)
    composer = AnswerComposer(chat_model, policy, evidence, attributor, fallback_sources_only)
    defaults = AnswerDefaults(policy.mode, top_k, max_tokens, prompt or load_prompt("rag-v1"))
    return Answerer(preparation, composer, defaults)
