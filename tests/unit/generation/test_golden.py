"""The golden set's rules (what breaks a confirmed answer), its merge of ratings, and its file."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import InvalidRequest
from core.types import Answer, Citation, Claim, Quote
from generation.golden import Evidence, GoldenCase, check_case, load_golden, merge_golden, write_golden

LEAD = "The code of the vault is ALPHA-SEVEN."
CASE = GoldenCase("What is the code?", "docs", "docs", "answer",
                  (Evidence("vault.txt", LEAD), Evidence("vault.txt", "Only the curator knows it.")))


def answer(*quotes: tuple[str, str], refused: bool = False, confidence: str = "high") -> Answer:
    """An answer quoting (doc_id, sentence) pairs, each its own source."""
    citations = [Citation(n, f"c{n}", doc, doc, doc, 0, 100, None, text, 1.0, Quote(n, 0, len(text), text))
                 for n, (doc, text) in enumerate(quotes, start=1)]
    claims = [Claim(c.snippet, (c.number,), True, 1.0, c.quote) for c in citations]
    return Answer(" ".join(f"{t} [{n}]" for n, (_, t) in enumerate(quotes, start=1)), citations, refused=refused,
                  claims=claims, mode="extractive", confidence=confidence)  # type: ignore[arg-type]


def test_a_confirmed_answer_holds_while_its_lead_sentence_is_shown_anywhere() -> None:
    assert check_case(CASE, answer(("vault.txt", LEAD))) == []
    # Reordered, another sentence first, the second confirmed sentence gone, whitespace refolded: still holds.
    refolded = LEAD.replace(" is ", "\n  is ")
    assert check_case(CASE, answer(("other.txt", "Something else."), ("vault.txt", refolded))) == []


def test_a_refusal_or_a_lost_lead_sentence_breaks_it() -> None:
    assert "now refused" in check_case(CASE, answer(refused=True, confidence="none"))[0]
    lost = check_case(CASE, answer(("vault.txt", "Only the curator knows it.")))
    assert len(lost) == 1 and "no longer shown" in lost[0] and "ALPHA-SEVEN" in lost[0]
    assert check_case(CASE, answer(("copy.txt", LEAD)))  # the same words in another document are not the evidence


def test_a_confirmed_refusal_breaks_only_on_a_confident_answer() -> None:
    refusal = GoldenCase("What is the melting point of tungsten?", "docs", "docs", "refusal")
    assert check_case(refusal, answer(refused=True, confidence="none")) == []
    assert check_case(refusal, answer(("vault.txt", LEAD), confidence="low")) == []
    assert "answered confidently" in check_case(refusal, answer(("vault.txt", LEAD)))[0]


def test_the_latest_rating_of_a_question_wins_and_other_cases_stay() -> None:
    other = GoldenCase("Who?", "cmu", "tests/data/cmu", "answer", (Evidence("a.txt", "Ana."),))
    again = GoldenCase("what is the code", "docs", "docs", "answer", (Evidence("vault.txt", LEAD),), answer_id="b")
    merged = merge_golden([CASE, other], [("docs", again, again.question)])
    assert merged.updated == [again.question] and merged.added == [] and merged.removed == []
    assert [c.answer_id for c in merged.cases] == ["", "b"] and merged.cases[0] == other  # sorted by collection
    withdrawn = merge_golden([CASE, other], [("docs", again, again.question), ("docs", None, "What is the code?")])
    assert withdrawn.cases == [other] and withdrawn.removed == ["what is the code"]
    assert merge_golden([], [("docs", None, "Never confirmed?")]).cases == []


def test_the_file_round_trips_sorted_and_says_where_a_row_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "golden" / "set.jsonl"
    assert load_golden(path) == []
    write_golden(path, [CASE, GoldenCase("A refusal?", "docs", "docs", "refusal")])
    assert load_golden(path) == [GoldenCase("A refusal?", "docs", "docs", "refusal"), CASE]
    path.write_text(path.read_text() + '{"question": "Q?", "collection": "docs", "corpus": "d", "expect": "maybe"}\n')
    with pytest.raises(InvalidRequest, match="line 3"):
        load_golden(path)
