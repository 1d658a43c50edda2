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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import InvalidRequest
from core.types import ChatMessage

FORMS = ("wh", "imperative", "keyword", "howto", "extraction", "yesno", "comparison", "followup")


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
