"""Feedback rows as exported: eval rows `ragqa eval answers` reads back, chat rows with their
sources, golden rows with the evidence shown (no Redis: the rows are pure functions of an entry)."""

from __future__ import annotations

import json

import pytest

from core.errors import InvalidRequest
from core.types import Answer
from generation.eval_rows import parse_eval_rows
from generation.evaluation import EvalQuestion, score_answer
from state.erasure import ERASED
from state.feedback import to_chat_row, to_eval_row, to_golden_row

QUOTE = {"number": 1, "start": 50, "end": 90, "text": "The code of the vault is ALPHA-SEVEN."}
SECOND = {"number": 2, "start": 0, "end": 20, "text": "The curator knows it."}
ANSWER = {
    "answer_id": "a1", "question": "What is the code?", "collection": "docs", "refused": False,
    "text": "The code of the vault is ALPHA-SEVEN. [1] The curator knows it. [2]", "mode": "extractive",
    "citations": [{"number": 1, "chunk_id": "c1", "doc_id": "vault.txt", "title": "Vault", "source": "vault.txt",
                   "start": 0, "end": 200, "page": None, "snippet": "…The code of the vault is ALPHA-SEVEN.…",
                   "score": 1.0, "quote": QUOTE},
                  {"number": 2, "chunk_id": "c2", "doc_id": "staff.txt", "title": "Staff", "source": "staff.txt",
                   "start": 0, "end": 80, "page": None, "snippet": "The curator knows it.", "score": 0.5,
                   "quote": SECOND}],
    "claims": [{"text": "The code of the vault is ALPHA-SEVEN.", "citations": [1], "quote": QUOTE},
               {"text": "The curator knows it.", "citations": [2], "quote": SECOND}],
}  # fmt: skip


def entry(rating: str, answer: dict[str, object] | None = None, **fields: object) -> dict[str, object]:
    return {"answer_id": "a1", "rating": rating, "comment": None, "correction": None, "created_at": 1.0,
            "answer": answer or ANSWER, **fields}


def read_back(*rows: dict[str, object]) -> list[EvalQuestion]:
    return parse_eval_rows([json.dumps(r) for r in rows], "rows.jsonl")["docs"]


def test_an_up_vote_is_gold_with_the_sources_it_cited() -> None:
    row = to_eval_row(entry("up"))
    assert row["answers"] == [ANSWER["text"]] and row["doc_id"] == "vault.txt" and row["known_wrong"] == []
    assert [(s["doc_id"], s["chunk_id"], s["quote"]["text"]) for s in row["sources"]] == [
        ("vault.txt", "c1", QUOTE["text"]), ("staff.txt", "c2", SECOND["text"])]
    (question,) = read_back(row)
    assert question.answers == (ANSWER["text"],) and question.doc_id == "vault.txt" and not question.expect_refusal


def test_a_down_vote_is_a_known_wrong_answer_to_recheck_and_a_correction_is_gold() -> None:
    plain, corrected = to_eval_row(entry("down")), to_eval_row(entry("down", correction="BETA-TWO"))
    assert plain["answers"] == [] and plain["known_wrong"] == [ANSWER["text"]] and plain["recheck"] is True
    assert corrected["answers"] == ["BETA-TWO"] and corrected["doc_id"] is None
    first, second = read_back(plain, corrected)
    assert first.known_wrong == (ANSWER["text"],) and second.answers == ("BETA-TWO",)
    same = score_answer(first, Answer(ANSWER["text"] + " ", mode="extractive"))
    assert same.repeats_known_wrong is True and same.has_gold is False
    assert score_answer(second, Answer("It is BETA-TWO [1].")).contains_gold == 1.0


def test_an_up_voted_refusal_expects_one_and_an_erased_answer_is_no_gold() -> None:
    refusal = {**ANSWER, "refused": True, "text": "The documents don't say.", "citations": [], "claims": []}
    assert to_eval_row(entry("up", refusal))["expect_refusal"] is True
    erased = {**ANSWER, "text": ERASED, "claims": []}
    assert to_eval_row(entry("up", erased))["answers"] == [] and to_eval_row(entry("down", erased))["known_wrong"] == []
    assert to_golden_row(entry("up", erased)) is None and to_golden_row(entry("down")) is None


def test_chat_rows_give_the_model_the_sources_their_numbers_point_at() -> None:
    row = to_chat_row(entry("up"))
    prompt, reply = (m["content"] for m in row["messages"])
    assert prompt.startswith("Sources:\n[1] Vault (vault.txt): ") and "\n[2] Staff (staff.txt): " in prompt
    assert prompt.endswith("Question: What is the code?") and reply == ANSWER["text"]
    assert [s["number"] for s in row["sources"]] == [1, 2]


def test_a_golden_row_keeps_the_evidence_in_the_answers_order() -> None:
    row = to_golden_row(entry("up"))
    assert row is not None and row["expect"] == "answer" and row["collection"] == "docs"
    assert row["evidence"] == [{"doc_id": "vault.txt", "text": QUOTE["text"]},
                               {"doc_id": "staff.txt", "text": SECOND["text"]}]


@pytest.mark.parametrize(("line", "message"), [
    ("not json", "line 1: not JSON"), ('{"collection": "docs"}', "question"),
    ('{"question": "Q?"}', "collection"), ('{"question": "Q?", "collection": "d", "answers": "A"}', "list of strings"),
])
def test_bad_eval_rows_name_their_line(line: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        parse_eval_rows([line], "rows.jsonl")
