"""The answer cache's key comes from the request, in one place: every field of an ``AnswerRequest``
that shapes an answer changes it, and nothing else does (the deadline, the wording's case and
spacing, the order filters are given in)."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime

import pytest

from core.answer_request import AnswerRequest, answer_key, semantic_scope
from core.errors import InvalidRequest
from core.protocols import GenerationOptions
from core.types import ChatMessage, SearchFilters
from generation.answerer import Answerer
from generation.evidence import EvidenceModel, EvidenceScorer
from generation.evidence_models import EvidenceModels
from generation.policy import AnswerPolicy
from tests.support.answerers import assemble_answerer
from tests.support.fakes import FakeChatModel, FakeRetriever, make_chunk

BASE = AnswerRequest("When was the bridge built?", "docs")
# One change per field of AnswerRequest: a field added later without a line here fails the test.
CHANGES = {
    "question": {"question": "When was the tunnel built?"},
    "collection": {"collection": "other"},
    "filters": {"filters": SearchFilters(doc_ids=("bridge.txt",))},
    "history": {"history": (ChatMessage("user", "Tell me about the bridge."),)},
    "top_k": {"top_k": 2},
    "options": {"options": GenerationOptions(temperature=0.0)},
    "mode": {"mode": "auto"},
    "prompt_version": {"prompt_version": "rag-v2"},
    "fusion": {"fusion": "dense"},
    "evidence_model": {"evidence_model": "other"},
    "arm": {"arm": "prompts/b"},  # an experiment's arm: two arms never share an answer
}


SHIPPED = EvidenceModel.load()
OTHER = replace(SHIPPED, version="evidence-other")  # a second model a request may name


def answerer(mode: str = "generative") -> Answerer:
    # The key reads the evidence model's version only: the scorer never ranks anything here.
    scorer = EvidenceScorer(None, None, SHIPPED)  # type: ignore[arg-type]
    retriever = FakeRetriever([make_chunk(1, "The bridge was built in 1932.")])
    return assemble_answerer(retriever, FakeChatModel(), evidence=scorer, top_k=6, policy=AnswerPolicy(mode=mode),  # type: ignore[arg-type]
                             evidence_models=EvidenceModels({"default": SHIPPED, "other": OTHER}))


def key(answering: Answerer, request: AnswerRequest) -> str:
    return answer_key(request, answering.shape(request))


def test_every_field_that_shapes_an_answer_changes_its_key_and_the_deadline_does_not() -> None:
    assert set(CHANGES) == {f.name for f in fields(AnswerRequest)} - {"deadline"}
    generative = answerer("generative")
    keys = {name: key(generative, replace(BASE, **change)) for name, change in CHANGES.items()}  # type: ignore[arg-type]
    base = key(generative, BASE)
    assert base not in keys.values() and len(set(keys.values())) == len(CHANGES), keys
    assert key(generative, replace(BASE, deadline=123.0)) == base


def test_the_defaults_a_request_leaves_unset_are_in_the_key_as_resolved() -> None:
    generative = answerer("generative")
    assert key(generative, replace(BASE, top_k=6)) == key(generative, BASE)  # 6 is the default
    assert key(generative, replace(BASE, prompt_version="rag-v1")) == key(generative, BASE)
    assert key(generative, replace(BASE, mode="generative")) == key(generative, BASE)
    assert key(generative, BASE) != key(answerer("extractive"), BASE)  # another server default


def test_what_does_not_shape_an_extractive_answer_is_not_in_its_key() -> None:
    extractive = answerer("extractive")
    base = key(extractive, BASE)
    assert key(extractive, replace(BASE, options=GenerationOptions(temperature=0.0))) == base
    assert key(extractive, replace(BASE, prompt_version="rag-v2")) == base  # no prompt is used
    assert key(extractive, replace(BASE, top_k=2)) != base


def test_wording_and_filter_order_do_not_split_the_cache() -> None:
    extractive = answerer("extractive")
    assert key(extractive, replace(BASE, question="  when WAS the bridge built ")) == key(extractive, BASE)
    day = datetime(2024, 1, 1, tzinfo=UTC)
    one = SearchFilters(tags_any=(("team", "a"), ("team", "b")), ingested_after=day)
    other = SearchFilters(tags_any=(("team", "b"), ("team", "a")), ingested_after=day)
    assert key(extractive, replace(BASE, filters=one)) == key(extractive, replace(BASE, filters=other))
    assert key(extractive, replace(BASE, filters=SearchFilters())) == key(extractive, BASE)


def test_the_semantic_scope_holds_the_embedder_but_not_the_question() -> None:
    extractive = answerer("extractive")
    shape = extractive.shape(BASE)
    other_question = replace(BASE, question="Who built the bridge?")
    assert semantic_scope(BASE, shape, "e1") == semantic_scope(other_question, shape, "e1")
    assert semantic_scope(BASE, shape, "e1") != semantic_scope(BASE, shape, "e2")
    assert semantic_scope(BASE, shape, "e1") != semantic_scope(replace(BASE, collection="other"), shape, "e1")


def test_a_chosen_fusion_or_evidence_model_keys_its_own_answers_and_the_configured_one_keeps_its_key() -> None:
    for mode in ("extractive", "generative"):
        answering = answerer(mode)
        base = key(answering, BASE)
        fused = {f: key(answering, replace(BASE, fusion=f)) for f in ("convex", "rrf", "dbsf", "dense", "sparse")}
        assert base not in fused.values() and len(set(fused.values())) == 5  # one entry per fusion
        other = replace(BASE, evidence_model="other")
        assert key(answering, other) not in (base, *fused.values())
        assert key(answering, replace(BASE, evidence_model="default")) == base  # the configured model: as if unset
        shape = answering.shape(other)
        scopes = {semantic_scope(r, answering.shape(r), "e") for r in (BASE, other, replace(BASE, fusion="dense"))}
        assert len(scopes) == 3  # the semantic cache never crosses them either
        assert shape.evidence == "evidence-other"
        if mode == "extractive":  # the answer names the model that chose its sentences
            assert (answering.shape(BASE).model, shape.model) == (f"extractive:{SHIPPED.version}",
                                                                  "extractive:evidence-other")


def test_an_unknown_evidence_model_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(InvalidRequest, match="unknown evidence model 'nope': there are default, other"):
        answerer("extractive").plan(replace(BASE, evidence_model="nope"))
    plain = assemble_answerer(FakeRetriever([make_chunk(1, "text")]), FakeChatModel())
    with pytest.raises(InvalidRequest, match="evidence scorer"):
        plain.plan(replace(BASE, evidence_model="other"))


def test_a_request_is_checked_when_it_is_made() -> None:
    with pytest.raises(InvalidRequest, match="unknown answer mode"):
        AnswerRequest("q", "docs", mode="poetic")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="unknown retrieval fusion 'fast': use dense, sparse, rrf, dbsf, convex"):
        AnswerRequest("q", "docs", fusion="fast")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="evidence model name"):
        AnswerRequest("q", "docs", evidence_model="../etc/passwd")
    with pytest.raises(InvalidRequest, match="top_k"):
        AnswerRequest("q", "docs", top_k=0)
    history = [ChatMessage("user", "hi")]
    assert AnswerRequest("q", "docs", history=history).history == (ChatMessage("user", "hi"),)  # type: ignore[arg-type]


def test_a_mode_that_needs_the_evidence_scorer_is_refused_without_one() -> None:
    plain = assemble_answerer(FakeRetriever([make_chunk(1, "text")]), FakeChatModel())
    with pytest.raises(InvalidRequest, match="evidence scorer"):
        plain.plan(replace(BASE, mode="extractive"))
