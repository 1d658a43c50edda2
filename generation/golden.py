"""The golden set: answers people confirmed (up-voted), replayed so that a change that breaks one fails.

One JSON object a line (``tests/data/golden/*.jsonl``), made from feedback, never typed by hand:
``ragqa golden update FILE --collection C --corpus FOLDER`` adds each up-voted answer of collection
``C`` (``state.feedback.to_golden_row``), replaces a question confirmed again, and removes one
whose latest rating is a down-vote. A case holds the question, the collection and the corpus folder
it was asked of (relative to the repository), what was expected (``answer`` or ``refusal``), the
sentences the confirmed answer showed (``evidence``, in its order: doc id and text), and the answer
itself for reference. ``ragqa golden check FILE`` and the CI quality gate
(``tests/integration/generation/test_golden_set.py``) ingest each corpus, ask again, and fail a case:

- expected an answer, and got a refusal;
- expected an answer, and the sentence the confirmed answer led with (``evidence[0]``) is no longer
  among the new answer's quotes (same document, same words, whitespace aside): other sentences may
  come and go, as evidence ranking improves;
- expected a refusal, and got a confident answer (a hedged, low-confidence one may stand).

    >>> case = GoldenCase("Who?", "docs", "docs", "answer", (Evidence("a.md", "Ana wrote it."),))
    >>> GoldenCase.from_row(case.to_row()) == case
    True
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from core.answer_request import AnswerRequest, normalize_question
from core.errors import InvalidRequest
from core.types import Answer, AnswerMode

Expect = Literal["answer", "refusal"]


@dataclass(frozen=True, slots=True)
class Evidence:
    doc_id: str
    text: str


@dataclass(frozen=True, slots=True)
class GoldenCase:
    """One confirmed answer. Example::

        GoldenCase("When was the kangaroo first described?", "cmu", "tests/data/cmu-qa-dev/articles",
                   "answer", (Evidence("set1/a1.txt", "..."),))
    """

    question: str
    collection: str
    corpus: str  # the folder ingested to replay it, relative to the repository root
    expect: Expect
    evidence: tuple[Evidence, ...] = ()
    answer: str = ""
    answer_id: str = ""
    mode: str = ""
    prompt_version: str = ""
    confirmed_at: float = 0.0

    @property
    def key(self) -> tuple[str, str]:
        """Cases are one per question and collection (the question as the cache normalizes it)."""
        return self.collection, normalize_question(self.question)

    def to_row(self) -> dict[str, Any]:
        return {**asdict(self), "evidence": [asdict(e) for e in self.evidence]}

    @classmethod
    def from_row(cls, row: dict[str, Any], corpus: str | None = None) -> GoldenCase:
        """A case from a file's row, or from a feedback golden row plus its ``corpus``."""
        try:
            expect = row["expect"]
            if expect not in ("answer", "refusal"):
                raise InvalidRequest(f"\"expect\" is answer or refusal, not {expect!r}")
            evidence = tuple(Evidence(str(e["doc_id"]), str(e["text"])) for e in row.get("evidence") or ())
            return cls(str(row["question"]), str(row["collection"]), str(corpus or row["corpus"]), expect, evidence,
                       str(row.get("answer") or ""), str(row.get("answer_id") or ""), str(row.get("mode") or ""),
                       str(row.get("prompt_version") or ""), float(row.get("confirmed_at") or 0.0))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidRequest(f"not a golden case: missing or malformed {exc}") from exc


@dataclass(slots=True)
class Merged:
    cases: list[GoldenCase]
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def load_golden(path: Path) -> list[GoldenCase]:
    """The cases of a golden file (a missing file is an empty set: the first update creates it)."""
    if not path.exists():
        return []
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            cases.append(GoldenCase.from_row(json.loads(line)))
        except (json.JSONDecodeError, InvalidRequest) as exc:
            raise InvalidRequest(f"{path}, line {number}: {getattr(exc, 'message', None) or exc}") from exc
    return cases


def write_golden(path: Path, cases: Iterable[GoldenCase]) -> None:
    """Sorted by collection then question, one case a line: a new confirmation is a one-line diff."""
    rows = sorted(cases, key=lambda c: c.key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(c.to_row(), ensure_ascii=False) + "\n" for c in rows), encoding="utf-8")


def merge_golden(existing: Sequence[GoldenCase], ratings: Iterable[tuple[str, GoldenCase | None, str]]) -> Merged:
    """``ratings``: (collection, case or None, question) oldest first; a case confirms (adds or replaces),
    None withdraws (a down-vote). The latest rating of a question wins; other cases stay as they are."""
    cases = {c.key: c for c in existing}
    merged = Merged([])
    latest: dict[tuple[str, str], GoldenCase | None] = {}
    for collection, case, question in ratings:
        latest[(collection, normalize_question(question))] = case
    for key, case in latest.items():
        if case is None:
            if cases.pop(key, None) is not None:
                merged.removed.append(key[1])
            continue
        (merged.updated if key in cases else merged.added).append(case.question)
        cases[key] = case
    merged.cases = sorted(cases.values(), key=lambda c: c.key)
    return merged


def _fold(text: str) -> str:
    return " ".join(text.split())


def shown_quotes(answer: Answer) -> list[Evidence]:
    """The sentences an answer shows as its support: its claims' and citations' quotes, with their documents."""
    doc_of = {c.number: c.doc_id for c in answer.citations}
    quotes = [c.quote for c in answer.claims] + [c.quote for c in answer.citations]
    return [Evidence(doc_of.get(q.number, ""), q.text) for q in quotes if q is not None]


@dataclass(frozen=True, slots=True)
class Replayed:
    """A case asked again: what broke (empty: it holds), and the new answer's confidence."""

    case: GoldenCase
    problems: list[str]
    confidence: str

    def to_dict(self) -> dict[str, Any]:
        return {"collection": self.case.collection, "question": self.case.question, "corpus": self.case.corpus,
                "problems": self.problems, "confidence": self.confidence}


def replay_golden(cases: Sequence[GoldenCase], load_corpus: Callable[[str], str],
                  ask: Callable[[AnswerRequest], Answer]) -> list[Replayed]:
    """Every case asked again: ``load_corpus(folder)`` ingests a corpus once and names the collection
    that holds it; each question goes to ``ask`` in the mode its answer was confirmed in (an
    extractive or generative answer; else the configured mode)."""
    results = []
    for corpus in sorted({c.corpus for c in cases}):
        collection = load_corpus(corpus)
        for case in (c for c in cases if c.corpus == corpus):
            mode: AnswerMode | None = "extractive" if case.mode == "extractive" else (
                "generative" if case.mode == "generative" else None)
            answer = ask(AnswerRequest(case.question, collection, mode=mode))
            results.append(Replayed(case, check_case(case, answer), answer.confidence))
    return results


def check_case(case: GoldenCase, answer: Answer) -> list[str]:
    """What broke the confirmed answer (empty: it holds); see the module docstring for the rules."""
    if case.expect == "refusal":
        return [f"confirmed as a refusal, now answered confidently: {answer.text[:200]!r}"] if (
            answer.confidence == "high" and not answer.refused) else []
    if answer.refused:
        return [f"confirmed as answered, now refused: {answer.text[:200]!r}"]
    if not case.evidence:
        return []
    lead = case.evidence[0]
    wanted = _fold(lead.text)
    if any(q.doc_id == lead.doc_id and wanted in _fold(q.text) for q in shown_quotes(answer)):
        return []
    return [f"the confirmed evidence is no longer shown: {lead.doc_id}: {wanted[:200]!r}; "
            f"now shown: {[f'{q.doc_id}: {_fold(q.text)[:80]}' for q in shown_quotes(answer)]}"]
