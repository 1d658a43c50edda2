"""Eval rows in JSON lines, as ``ragqa feedback export --format eval`` writes them, read into the
questions ``evaluate_answers`` asks, grouped by the collection they were asked of
(``ragqa eval answers --dataset rows.jsonl``).

A row needs ``question`` and a ``collection`` (unless one is given for every row); it may hold
``answers`` (gold answers), ``doc_id`` (the document the answer should cite), ``expect_refusal``
and ``known_wrong`` (answers a person rated wrong). Anything else (the sources cited, the
rating, the comment) travels along unread.

    >>> rows = ['{"question": "Who?", "collection": "docs", "answers": ["Ana"]}',
    ...         '{"question": "Why?", "collection": "docs", "known_wrong": ["Because."], "recheck": true}']
    >>> questions = parse_eval_rows(rows, "feedback.jsonl")["docs"]
    >>> questions[0].answers, questions[1].known_wrong
    (('Ana',), ('Because.',))
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from core.errors import InvalidRequest
from generation.evaluation import EvalQuestion, normalize_answer

_YES_NO = {"yes", "no"}


def load_eval_rows(path: Path, collection: str | None = None) -> dict[str, list[EvalQuestion]]:
    """The file's questions by collection (``collection``: for every row, whatever it names)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidRequest(f"cannot read {path}: {exc.strerror or exc}") from exc
    return parse_eval_rows(lines, str(path), collection)


def parse_eval_rows(lines: Iterable[str], name: str, collection: str | None = None) -> dict[str, list[EvalQuestion]]:
    grouped: dict[str, list[EvalQuestion]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidRequest(f"{name}, line {number}: not JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise InvalidRequest(f"{name}, line {number}: a row is a JSON object")
        where = collection or row.get("collection")
        if not isinstance(where, str) or not where:
            raise InvalidRequest(f"{name}, line {number}: no \"collection\" (give --collection for every row)")
        grouped.setdefault(where, []).append(_question(row, f"{name}, line {number}"))
    if not grouped:
        raise InvalidRequest(f"{name}: no rows")
    return grouped


def _question(row: dict[str, Any], where: str) -> EvalQuestion:
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise InvalidRequest(f"{where}: \"question\" must be a non-empty string")
    answers, wrong = _strings(row, "answers", where), _strings(row, "known_wrong", where)
    doc_id = row.get("doc_id")
    if doc_id is not None and not isinstance(doc_id, str):
        raise InvalidRequest(f"{where}: \"doc_id\" must be a string or null")
    yes_no = bool(answers) and all(normalize_answer(a) in _YES_NO for a in answers)
    return EvalQuestion(question.strip(), answers, doc_id=doc_id or None,
                        expect_refusal=bool(row.get("expect_refusal")), yes_no=yes_no, known_wrong=wrong)


def _strings(row: dict[str, Any], field: str, where: str) -> tuple[str, ...]:
    value = row.get(field) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequest(f"{where}: \"{field}\" must be a list of strings")
    return tuple(v for v in value if v.strip())
