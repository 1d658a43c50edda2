"""Experiments' pure parts: arms parsed and checked by the settings that own each value, assignment by
hash (stable, split by the shares, independent between experiments), and what an arm does to a request."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from core.answer_request import AnswerRequest, AnswerShape, answer_key, semantic_scope
from core.errors import InvalidRequest
from core.experiments import Arm, Experiment, parse_arm, position
from core.protocols import GenerationOptions

SHAPE = AnswerShape(mode="extractive", top_k=3, model="extractive:evidence", prompt_version="-")


def test_an_arm_is_parsed_and_its_values_read_by_their_settings() -> None:
    arm = parse_arm("deep:top_k=8, mode=generative ,temperature=0.3:25")
    assert (arm.name, arm.share) == ("deep", 25.0)
    assert arm.overrides == {"top_k": 8, "mode": "generative", "temperature": 0.3}
    assert parse_arm("control::50").overrides == {}
    assert parse_arm("b:fusion=rrf,evidence_model=negated-cosine:50").overrides == {
        "fusion": "rrf", "evidence_model": "negated-cosine"}


@pytest.mark.parametrize(("spec", "says"), [
    ("a:top_k=0:50", "greater than or equal to 1"),  # RetrievalSettings.top_k's own bound
    ("a:top_k=201:50", "less than or equal to 200"),
    ("a:mode=creative:50", "extractive"),  # AnswerSettings.mode's choices
    ("a:temperature=3:50", "less than or equal to 2"),  # LLMSettings.temperature's
    ("a:rrf_k=30:50", "cannot set 'rrf_k'"),
    ("a:fusion=fast:50", "convex"),  # RetrievalSettings.mode's choices
    ("a:evidence_model=../x:50", "pattern"),  # AnswerSettings.evidence_model's
    ("a:mode=:50", "give a value"),
    ("a:top_k=3,top_k=4:50", "twice"),
    ("a:top_k:50", "not SETTING=VALUE"),
    ("a:top_k=3", "NAME:SETTING=VALUE"),
    ("a:top_k=3:half", "not a number"),
    ("a:top_k=3:0", "over 0"),
    ("a b::50", "arm name"),
])  # fmt: skip
def test_a_bad_arm_says_what_is_wrong(spec: str, says: str) -> None:
    with pytest.raises(InvalidRequest, match=says):
        parse_arm(spec)


def test_an_experiment_needs_two_distinct_arms_whose_shares_make_100() -> None:
    a, b = Arm("a", 50), Arm("b", 50)
    with pytest.raises(InvalidRequest, match="at least two arms"):
        Experiment("x", (Arm("a", 100),))
    with pytest.raises(InvalidRequest, match="must differ"):
        Experiment("x", (a, Arm("a", 50)))
    with pytest.raises(InvalidRequest, match="add up to 90"):
        Experiment("x", (a, Arm("b", 40)))
    with pytest.raises(InvalidRequest, match="experiment name"):
        Experiment("no/slash", (a, b))
    exp = Experiment("x", (a, b), "docs", created=1.0)
    assert Experiment.from_dict(exp.to_dict()) == exp


def test_assignment_is_stable_follows_the_shares_and_differs_between_experiments() -> None:
    exp = Experiment("split", (Arm("small", 30), Arm("large", 70)))
    subjects = [f"user:{n}" for n in range(20_000)]
    arms = [exp.assign(s).name for s in subjects]
    assert arms == [exp.assign(s).name for s in subjects]
    assert abs(Counter(arms)["small"] / len(subjects) - 0.30) < 0.015
    other = Experiment("other", (Arm("small", 30), Arm("large", 70)))
    agree = sum(a == other.assign(s).name for a, s in zip(arms, subjects, strict=True)) / len(subjects)
    assert agree < 0.65  # independent splits agree 0.3² + 0.7² = 58% of the time, not always
    assert all(0 <= position("split", s) < 1 for s in subjects[:100])


def test_an_arm_sets_the_request_labels_it_and_a_request_that_chose_the_setting_stays_out() -> None:
    arm = parse_arm("b:prompt_version=rag-v2,top_k=4,max_tokens=64:50")
    request = AnswerRequest("Who?", "docs", options=GenerationOptions(temperature=0.2))
    applied = arm.apply(request, "exp")
    assert (applied.prompt_version, applied.top_k, applied.arm) == ("rag-v2", 4, "exp/b")
    assert applied.options == GenerationOptions(max_tokens=64, temperature=0.2)  # the client's own option kept
    assert arm.sets_what(request) == []
    assert arm.sets_what(replace(request, top_k=2)) == ["top_k"]
    assert arm.sets_what(replace(request, options=GenerationOptions(max_tokens=10))) == ["max_tokens"]
    retrieval = parse_arm("dense:fusion=dense,evidence_model=other:50")
    applied = retrieval.apply(request, "exp")
    assert (applied.fusion, applied.evidence_model, applied.arm) == ("dense", "other", "exp/dense")
    assert retrieval.sets_what(replace(request, fusion="rrf")) == ["fusion"]


def test_the_arm_is_in_both_cache_keys_and_nothing_else_changes_without_one() -> None:
    request = AnswerRequest("When was it built?", "docs")
    in_a, in_b = replace(request, arm="exp/a"), replace(request, arm="exp/b")
    keys = {answer_key(r, SHAPE) for r in (request, in_a, in_b)}
    scopes = {semantic_scope(r, SHAPE, "minilm") for r in (request, in_a, in_b)}
    assert len(keys) == len(scopes) == 3
    assert answer_key(replace(in_a, question="when was it built"), SHAPE) == answer_key(in_a, SHAPE)
