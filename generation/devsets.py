"""The multi-genre answer sets: a folder per genre, its documents in ``docs/`` and its questions in
``questions.jsonl`` (see bench/data/answers-multigenre/README.md for the fields).

Each question names its form (``wh``, ``imperative``, ``keyword``, ``howto``, ``extraction``,
``yesno``, ``comparison``, ``followup``), whether the documents answer it, the answering document and
the exact passage (``evidence``) that holds the answer, so an evaluation can check that the evidence
shown is the right one, whatever the answer's wording.

    sets = load_genres(Path("bench/data/answers-multigenre"))
    [(s.genre, len(s.documents), len(s.questions)) for s in sets]
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.answer_request import AnswerRequest
from core.errors import InvalidRequest, RagqaError
from core.types import AnswerMode, ChatMessage

if TYPE_CHECKING:
    from generation.answerer import Answerer

FORMS = ("wh", "imperative", "keyword", "howto", "extraction", "yesno", "comparison", "followup")
_WORDS = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class DevQuestion:
    """One question of a genre; ``evidence`` is an exact substring of document ``doc_id``."""

    id: str
    genre: str
    form: str
    question: str
    answerable: bool
    doc_id: str | None = None
    answers: tuple[str, ...] = ()
    evidence: str | None = None
    history: tuple[ChatMessage, ...] = ()


@dataclass(slots=True)
class GenreSet:
    genre: str
    folder: Path
    documents: dict[str, Path] = field(default_factory=dict)  # doc_id -> file
    questions: list[DevQuestion] = field(default_factory=list)

    def text(self, doc_id: str) -> str:
        return self.documents[doc_id].read_text(encoding="utf-8")


def load_genre(folder: Path) -> GenreSet:
    """One genre's documents and questions; a malformed line is an ``InvalidRequest`` naming it."""
    docs = folder / "docs"
    found = GenreSet(folder.name, folder, {p.relative_to(docs).as_posix(): p for p in sorted(docs.rglob("*"))
                                           if p.is_file()})  # fmt: skip
    path = folder / "questions.jsonl"
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            history = tuple(ChatMessage(t["role"], t["content"]) for t in row.get("history") or ())
            question = DevQuestion(row["id"], row.get("genre") or folder.name, row["form"], row["question"],
                                   bool(row["answerable"]), row.get("doc_id"), tuple(row.get("answers") or ()),
                                   row.get("evidence"), history)  # fmt: skip
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidRequest(f"{path}:{number}: not a question record ({exc})") from exc
        if question.form not in FORMS:
            raise InvalidRequest(f"{path}:{number}: unknown form {question.form!r} (one of {', '.join(FORMS)})")
        found.questions.append(question)
    return found


def load_genres(root: Path, only: Sequence[str] = ()) -> list[GenreSet]:
    """Every genre folder under ``root`` that has questions (or those named in ``only``)."""
    folders = sorted(p.parent for p in root.glob("*/questions.jsonl"))
    return [load_genre(f) for f in folders if not only or f.name in only]


def _words(text: str) -> set[str]:
    return set(_WORDS.findall(text.lower()))


def shows_evidence(question: DevQuestion, doc_id: str, sentence: str) -> bool:
    """Whether a quoted sentence is the question's evidence: it overlaps most of the gold evidence in
    the answering document, or holds a gold answer there (for a comparison, in either document).

    >>> q = DevQuestion("x", "g", "wh", "Checkout time?", True, "a.txt", ("11:00",), "Check-out: by 11:00")
    >>> shows_evidence(q, "a.txt", "Check-out: Sunday 12 May 2024, by 11:00"), shows_evidence(q, "b.txt", "by 11:00")
    (True, False)
    """
    from generation.evaluation import contains_answer  # the answer path's scorer; imported late (it is heavy)

    holds_answer = bool(question.answers) and contains_answer(sentence, question.answers) == 1.0
    if question.evidence is not None and doc_id == question.doc_id:
        gold, shown = _words(question.evidence), _words(sentence)
        if gold and len(gold & shown) >= 0.6 * min(len(gold), len(shown) or 1):
            return True
    return holds_answer and (doc_id == question.doc_id or question.form == "comparison")


@dataclass(slots=True)
class GenreRecord:
    """One question's outcome: its ``confidence`` (``high``, ``low``, ``none``) and whether the answer
    showed the right evidence; ``error`` is a ragqa error code (a rejected question counts as refused)."""

    id: str
    genre: str
    form: str
    question: str
    answerable: bool
    confidence: str
    evidence_shown: bool = False
    error: str | None = None
    text: str = ""


def score_genre(answerer: Answerer, genre: GenreSet, collection: str,
                mode: AnswerMode | None = None) -> list[GenreRecord]:
    """Asks every question of a genre (with its conversation) over ``collection``, already ingested."""
    records = []
    for q in genre.questions:
        try:
            answer = answerer.ask(AnswerRequest(q.question, collection, history=tuple(q.history), mode=mode))
        except RagqaError as exc:
            records.append(GenreRecord(q.id, genre.genre, q.form, q.question, q.answerable, "none", error=exc.code))
            continue
        doc_of = {c.number: c.doc_id for c in answer.citations}
        quotes = [(doc_of.get(q.number, ""), q.text) for q in
                  [c.quote for c in answer.claims] + [c.quote for c in answer.citations] if q is not None]
        shown = q.answerable and not answer.refused and any(shows_evidence(q, d, t) for d, t in quotes)
        records.append(GenreRecord(q.id, genre.genre, q.form, q.question, q.answerable, answer.confidence, shown,
                                   text=answer.text))  # fmt: skip
    return records


def outcomes(records: Sequence[GenreRecord]) -> dict[str, float | int]:
    """The three outcomes over some records: for answerable questions the right evidence shown, refused,
    low confidence and confident-wrong; for the rest (near-domain), how many got a confident answer."""
    answerable = [r for r in records if r.answerable]
    near = [r for r in records if not r.answerable]

    def share(flags: Sequence[bool]) -> float:
        return round(sum(flags) / len(flags), 3) if flags else 0.0

    return {
        "answerable": len(answerable), "near_domain": len(near),
        "evidence_shown": share([r.evidence_shown for r in answerable]),
        "refused": share([r.confidence == "none" for r in answerable]),
        "low_confidence": share([r.confidence == "low" for r in answerable]),
        "confident_wrong": share([r.confidence == "high" and not r.evidence_shown for r in answerable]),
        "near_confident": share([r.confidence == "high" for r in near]),
        "near_refused": share([r.confidence == "none" for r in near]),
        "rejected": sum(r.error == "guardrail_violation" for r in records),
    }
