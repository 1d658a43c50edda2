"""Refusal: the relevance floor (dense cosine first, fused score only when configured) and
recognising a model that declines."""

from __future__ import annotations

import pytest

from generation.guardrails.refusal import RefusalPolicy, best_relevance, looks_like_refusal
from tests.support.fakes import make_chunk


def test_dense_score_is_preferred_over_fused() -> None:
    chunks = [make_chunk(1, "a", dense=0.2, score=0.9), make_chunk(2, "b", dense=0.4, score=0.1)]
    assert best_relevance(chunks) == (0.4, "dense")


def test_refuses_under_the_dense_floor() -> None:
    policy = RefusalPolicy(min_dense_score=0.3)
    assert policy.should_refuse([make_chunk(1, "a", dense=0.29)])
    assert not policy.should_refuse([make_chunk(1, "a", dense=0.31)])
    assert "0.290" in policy.explain([make_chunk(1, "a", dense=0.29)])


def test_fused_floor_applies_only_without_dense_scores() -> None:
    chunks = [make_chunk(1, "a", dense=None, score=0.01)]
    assert not RefusalPolicy(min_score=None).should_refuse(chunks)
    assert RefusalPolicy(min_score=0.02).should_refuse(chunks)


def test_no_chunks_always_refuses() -> None:
    assert RefusalPolicy().should_refuse([])


@pytest.mark.parametrize(
    "text",
    [
        "I don't know based on the provided documents.",
        "The sources do not mention when he was born.",
        "This is not stated in the provided context.",
        "I cannot answer that from these documents.",
        "",
    ],
)
def test_recognises_refusals(text: str) -> None:
    assert looks_like_refusal(text)


@pytest.mark.parametrize("text", ["Paris is the capital [1].", "He was born in 1809 in Kentucky [2]."])
def test_answers_are_not_refusals(text: str) -> None:
    assert not looks_like_refusal(text)
