"""Evaluation: SQuAD-style scores, the aggregate report, the A/B of two prompt versions."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.errors import LLMError
from generation.answerer import Answerer
from generation.evaluation import (
    EvalQuestion,
    compare_prompts,
    evaluate_answers,
    exact_match,
    normalize_answer,
    token_f1,
)
from tests.support.fakes import FakeChatModel, FakeRetriever

Build = Callable[..., tuple[Answerer, FakeChatModel, FakeRetriever]]


def test_normalization_drops_citations_articles_and_punctuation() -> None:
    assert normalize_answer("The  Eiffel Tower [1], Paris!") == "eiffel tower paris"


def test_exact_match_and_f1() -> None:
    assert exact_match("In 1889 [2].", ["1889", "in 1889"]) == 1.0
    assert exact_match("1890", ["1889"]) == 0.0
    assert token_f1("completed in 1889", ["1889"]) == pytest.approx(0.5)
    assert token_f1("nothing shared", ["1889"]) == 0.0
    assert token_f1("", [""]) == 1.0


def test_evaluate_aggregates_quality_refusals_citations_and_latency(make_answerer: Build) -> None:
    answerer, _, _ = make_answerer([
        "Paris [1].",
        "I don't know based on the provided documents.",
        "Europe [2][8].",
        LLMError("boom"),
    ])  # fmt: skip
    questions = [
        EvalQuestion("Capital of France?", ("Paris",), doc_id="doc1.txt"),
        EvalQuestion("Population of Mars?", (), expect_refusal=True),
        EvalQuestion("Where is France?", ("Western Europe",)),
        EvalQuestion("Fourth?", ("x",)),
    ]
    seen: list[int] = []
    report = evaluate_answers(answerer, questions, "docs", on_record=lambda i, _: seen.append(i))
    summary = report.summary()
    assert seen == [0, 1, 2, 3]
    assert summary["questions"] == 4 and summary["errors"] == 1
    assert summary["error_codes"] == {"llm_error": 1}
    # Quality is over the answerable questions that were answered: the refusal expected is apart.
    assert summary["exact_match"] == 0.5
    assert summary["contains_gold"] == 0.5
    assert summary["false_refusals"] == 0.0
    assert summary["refusal_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert summary["correct_refusals"] == 1.0
    assert summary["citation_validity"] == pytest.approx(2 / 3, abs=1e-3)
    assert summary["cited_expected_doc"] == 1.0
    assert summary["latency_p50_ms"]["generate"] is not None
    assert {"retrieve", "total"} <= set(summary["latency_p50_ms"])
    assert report.to_dict()["records"][0]["prediction"] == "Paris [1]."
    # The three outcomes: every record carries its confidence; the generated refusal is "none".
    assert [r["confidence"] for r in report.to_dict()["records"]][:3] == ["high", "none", "high"]
    assert summary["near_domain_confident"] == 0.0 and summary["low_confidence"] == 0.0
    assert summary["confident_wrong"] == 0.5  # "Europe" for "Western Europe": confident, without the gold


def test_compare_prompts_runs_both_versions(make_answerer: Build) -> None:
    answerer, model, _ = make_answerer(["Paris [1]."])
    result = compare_prompts(answerer, [EvalQuestion("Capital of France?", ("Paris",))], "docs")
    assert result["a"]["prompt_version"] == "rag-v1"
    assert result["b"]["prompt_version"] == "rag-v2"
    assert result["f1_wins"]["ties"] == 1
    assert result["delta_b_minus_a"]["f1"] == 0.0
    assert len(model.calls) == 2


def test_the_first_statement_of_a_hedged_answer_is_its_first_quote_not_the_hedge() -> None:
    from core.types import Answer, Claim
    from generation.evaluation import score_answer

    item = EvalQuestion("When was Lincoln born?", ("1809",))
    hedged = Answer('The documents may not answer this directly. The closest passage: "Lincoln was born in 1809." [1]',
                    claims=[Claim("Lincoln was born in 1809.", (1,), True, 0.4)], mode="extractive", confidence="low")
    assert score_answer(item, hedged).first_sentence_contains_gold == 1.0
    plain = Answer("He was a lawyer. He was born in 1809.", mode="generative")  # no claims: the first sentence
    assert score_answer(item, plain).first_sentence_contains_gold == 0.0
