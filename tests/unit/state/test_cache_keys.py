"""Cache keys: what counts as the same question, and what must never share an answer."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from core.answer_request import AnswerRequest, AnswerShape, answer_key, normalize_question
from state.semantic_cache import best_match

SHAPE = AnswerShape(mode="generative", top_k=6, model="smollm2", prompt_version="rag-v1")


def fp(question: str, collection: str = "docs", shape: AnswerShape = SHAPE, **fields: object) -> str:
    return answer_key(AnswerRequest(question, collection, **fields), shape)  # type: ignore[arg-type]


@pytest.mark.parametrize(("a", "b"), [
    ("When was Lincoln born?", "when was lincoln born"),
    ("  When   was\tLincoln born ?  ", "When was Lincoln born?"),
    ("When was Lincoln born?!", "WHEN WAS LINCOLN BORN."),
    ("Ｗｈｅｎ was Lincoln born?", "When was Lincoln born?"),  # full-width letters: NFKC
])  # fmt: skip
def test_equivalent_wordings_share_a_key(a: str, b: str) -> None:
    assert normalize_question(a) == normalize_question(b)
    assert fp(a) == fp(b)


def test_different_questions_differ() -> None:
    assert fp("When was Lincoln born?") != fp("When did Lincoln die?")


@pytest.mark.parametrize("change", [
    {"top_k": 3}, {"model": "other"}, {"prompt_version": "rag-v2"}, {"mode": "auto"}, {"options": "0a1b2c3d4e5f"},
])  # fmt: skip
def test_everything_the_request_resolves_to_is_in_the_key(change: dict[str, object]) -> None:
    assert fp("q?") != fp("q?", shape=replace(SHAPE, **change))  # type: ignore[arg-type]


def test_best_match_respects_the_threshold() -> None:
    vectors = np.array([[1.0, 0.0], [0.6, 0.8]], dtype=np.float32)
    query = np.array([0.8, 0.6], dtype=np.float32)  # cos 0.8 with the first, 0.96 with the second
    assert best_match([b"a", b"b"], vectors, 0.95, query) == (b"b", pytest.approx(0.96))
    assert best_match([b"a", b"b"], vectors, 0.97, query) is None
    assert best_match([], np.zeros((0, 0), dtype=np.float32), 0.5, query) is None


def test_a_hit_is_patched_in_place_without_parsing() -> None:
    import json

    from state.answer_cache import mark_cached

    stored = {"answer_id": "a", "text": 'He said "cached":false once', "citations": [], "cached": False,
              "usage": {"total_tokens": 3}, "timings_ms": {"retrieve": 12.5, "total": 80.0}}
    raw = json.dumps(stored, separators=(",", ":")).encode()
    served = json.loads(mark_cached(raw, 0.4321) or b"")
    assert served["cached"] is True
    assert served["timings_ms"] == {"cache": 0.432}
    assert served["text"] == stored["text"] and served["usage"] == stored["usage"]


def test_an_unexpected_layout_is_left_to_the_parser() -> None:
    from state.answer_cache import mark_cached

    assert mark_cached(b'{"timings_ms":{},"cached":false,"x":1}', 1.0) is None  # timings_ms not last
    assert mark_cached(b'{"cached":true,"timings_ms":{}}', 1.0) is None


def test_entries_of_another_index_version_are_stale() -> None:
    from state.answer_cache import split_entry

    assert split_entry(b'3\n{"a":1}', "3") == b'{"a":1}'
    assert split_entry(b'3\n{"a":1}', "4") is None  # written before an ingest or delete
    assert split_entry(None, "0") is None
    assert split_entry(b"garbage", "0") is None
