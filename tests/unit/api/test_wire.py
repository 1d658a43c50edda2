"""Wire shapes: chat splitting, filters, job specs and progress counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.answers import split_chat
from api.openai_schemas import OpenAIMessage
from api.schemas import Filters, answer_payload
from core.errors import InvalidRequest
from core.types import Answer, ChatMessage, Citation
from jobs.records import DocumentProgress, Job
from jobs.spec import JobFile, JobSpec


def test_the_last_user_message_is_the_question() -> None:
    question, history = split_chat([("system", "be brief"), ("user", "Who?"), ("assistant", "Eiffel."),
                                    ("user", "When?")])  # fmt: skip
    assert question == "When?"
    assert history == [ChatMessage("user", "Who?"), ChatMessage("assistant", "Eiffel.")]


@pytest.mark.parametrize("messages", [[("assistant", "Hi")], [("system", "x")], [("user", "q"), ("assistant", "a")]])
def test_a_chat_must_end_with_the_user(messages: list[tuple[str, str]]) -> None:
    with pytest.raises(InvalidRequest):
        split_chat(messages)


def test_openai_content_parts_are_joined() -> None:
    message = OpenAIMessage(role="user", content=[{"type": "text", "text": "Who "}, {"type": "image_url"},
                                                  {"type": "text", "text": "built it?"}])  # type: ignore[list-item]
    assert message.text() == "Who built it?"


def test_filters_to_domain() -> None:
    assert Filters().to_domain() is None
    domain = Filters(doc_ids=["a.txt"], tags_all=["team = legal"]).to_domain()
    assert domain is not None
    assert domain.doc_ids == ("a.txt",) and domain.tags_all == (("team", "legal"),)
    with pytest.raises(InvalidRequest):
        Filters(tags_any=["no-equals-sign"]).to_domain()


def test_answer_payload_carries_citation_spans() -> None:
    citation = Citation(1, "c1", "a.txt", "A", "a.txt", 10, 42, None, "snippet", 0.5)
    answer = Answer("It is [1].", [citation], model="m", prompt_version="rag-v1", question="q?",
                    timings_ms={"total": 1.0})
    payload = answer_payload(answer, "abc", "docs")
    assert payload["citations"][0]["start"] == 10 and payload["citations"][0]["end"] == 42
    assert payload["cached"] is False and payload["answer_id"] == "abc" and payload["collection"] == "docs"
    assert payload["usage"]["total_tokens"] == 0


def test_job_spec_round_trips_through_json_data(tmp_path: Path) -> None:
    spec = JobSpec("j1", "docs", (JobFile("a.txt", "a.txt", tmp_path / "a.txt", {"team": "x"}),))
    assert JobSpec.from_dict(spec.to_dict()) == spec


def test_job_counts_every_state() -> None:
    job = Job("j", "docs", "running", 0.0, 0.0, [DocumentProgress("a", "a", "done", "added", 3),
                                                   DocumentProgress("b", "b", "parsing")])  # fmt: skip
    counts = job.counts()
    assert counts["done"] == 1 and counts["parsing"] == 1 and counts["failed"] == 0
    assert job.chunks_written == 3
    assert job.to_dict()["total"] == 2
