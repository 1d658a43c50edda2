"""Guardrails on the way in (questions), through (retrieved chunks) and out (citations, refusals)."""

from generation.guardrails.citations import CitationCheck, CitationStreamFilter, validate_citations
from generation.guardrails.context import ContextGuard, ScreenedChunk
from generation.guardrails.detector import InjectionDetector, InjectionVerdict, load_classifier
from generation.guardrails.input import InputGuard
from generation.guardrails.instructions import InstructionDetector, InstructionVerdict
from generation.guardrails.refusal import REFUSAL_TEXT, RefusalPolicy, looks_like_refusal

__all__ = [
    "REFUSAL_TEXT",
    "CitationCheck",
    "CitationStreamFilter",
    "ContextGuard",
    "InjectionDetector",
    "InjectionVerdict",
    "InputGuard",
    "InstructionDetector",
    "InstructionVerdict",
    "RefusalPolicy",
    "ScreenedChunk",
    "load_classifier",
    "looks_like_refusal",
    "validate_citations",
]
