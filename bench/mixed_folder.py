"""A mixed company folder (issue #32): are questions whose answer sits in a scan, a table row or a slide
answered from the right document and the right page, slide or row? The bar: at least 0.8.

    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.mixed_folder [--keep DIR]

The folder (12 files of a fictional instrument maker: scanned PDF pages and a scanned image, text PDFs
with ruled tables, a price-list workbook, a vendor CSV, a DOCX with tables, a quarterly-review deck
with speaker notes, a mailbox with a CSV attachment, an e-mail, an EPUB handbook) is built in a
temporary folder from ``bench/data/mixed-folder/files.json`` (``bench.mixed_folder_build``), ingested
into an embedded store and asked the 49 questions of ``questions.jsonl`` with the default settings.

Per question: the outcome (answer, low-confidence, refusal), whether the first citation (the one the
answer's first sentence cites) is the expected document, whether its location is the expected one
("p. 2", "slide 3", "sheet Rates, row 5", "row 5"; DOCX, EPUB and e-mail have none: the document
alone counts), and whether its quote holds a gold answer. "Right place" = not refused, the right
document and (where there is one) the right location: the bar. Stricter, beside it: the right place
and a quote that holds the answer (a PDF page or a DOCX holds many rows; the right page can show the
wrong row). The yardstick, in the same run: retrieval alone, whether the expected document is among
the passages the answerer is given (top_k), which tells a ranking miss from a reading one. Reported
per file kind and overall, for the dev and held-out splits (a third of each file's questions, fixed
before any run) and both. Results: bench/results/mixed-folder.json.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.common import write_results
from bench.mixed_folder_build import DATA, Spec, build_folder, load_files
from bootstrap.components import Components
from core.answer_request import AnswerRequest
from core.logging import configure_logging
from core.settings import QdrantSettings, RedisSettings, Settings
from core.types import Answer, Citation
from ingest.ocr import ocr_available
from ingest.sources import iter_sources

KINDS = ("scan", "pdf-table", "xlsx", "csv", "docx-table", "slides", "email", "epub")
SPLITS = ("dev", "heldout", "all")
BAR = 0.8
COLLECTION = "mixed-folder"
OUTCOMES = {"high": "answer", "low": "low-confidence", "none": "refusal"}


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    question: str
    form: str
    doc_id: str
    location: str | None
    answers: tuple[str, ...]
    split: str
    kind: str


@dataclass(slots=True)
class Record:
    """One question's result; ``cited_*`` describe the first citation (None when there is none)."""

    id: str
    kind: str
    form: str
    split: str
    question: str
    expected_doc: str
    expected_location: str | None
    outcome: str
    mode: str  # what wrote the answer (``Answer.mode``): the default resolves at run time
    cited_doc: str | None
    cited_location: str | None
    quote: str | None
    answer: str
    right_document: bool
    right_place: bool
    quote_has_answer: bool
    # Stricter than the bar: a PDF page or a DOCX holds many rows, and the right page can show the wrong one.
    right_and_quoted: bool
    retrieved: bool  # the yardstick: the expected document among the top_k retrieved passages


def load_questions(files: Sequence[Spec], path: Path = DATA / "questions.jsonl") -> list[Question]:
    """The questions, each with its file's kind (an attachment's is its message file's)."""
    kinds = {spec["path"]: spec["kind"] for spec in files}
    questions = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        raw = json.loads(line)
        carrier = next(p for p in kinds if raw["doc_id"] == p or raw["doc_id"].startswith(p + "/"))
        questions.append(Question(raw["id"], raw["question"], raw["form"], raw["doc_id"], raw["location"],
                                  tuple(raw["answers"]), raw["split"], kinds[carrier]))
    return questions


def first_citation(answer: Answer) -> tuple[Citation | None, str | None]:
    """The citation the answer's first cited sentence names, and the quote it shows for it.

    A low-confidence answer opens with a sentence of its own ("may not answer this directly"), which
    cites nothing: the first sentence that cites something is the one that counts.
    """
    by_number = {c.number: c for c in answer.citations}
    for claim in answer.claims:
        if claim.citations and claim.citations[0] in by_number:
            citation = by_number[claim.citations[0]]
            quote = claim.quote or citation.quote
            return citation, quote.text if quote else None
    if answer.citations:  # an answer with no claims: its first source
        citation = answer.citations[0]
        return citation, citation.quote.text if citation.quote else None
    return None, None


def normalized(text: str) -> str:
    return re.sub(r"\s+", " ", text).casefold()


def score(question: Question, answer: Answer, retrieved: bool) -> Record:
    outcome = "refusal" if answer.refused else OUTCOMES[answer.confidence]
    citation, quote = first_citation(answer)
    cited_doc = citation.doc_id if citation else None
    cited_location = citation.location if citation else None
    right_document = outcome != "refusal" and cited_doc == question.doc_id
    right_place = right_document and (question.location is None or cited_location == question.location)
    has_answer = quote is not None and any(normalized(a) in normalized(quote) for a in question.answers)
    return Record(question.id, question.kind, question.form, question.split, question.question, question.doc_id,
                  question.location, outcome, answer.mode, cited_doc, cited_location, quote, answer.text,
                  right_document, right_place, has_answer, right_place and has_answer, retrieved)


def summarize(records: Sequence[Record]) -> dict[str, Any]:
    n = len(records)

    def share(hits: int) -> float | None:
        return round(hits / n, 3) if n else None

    return {"questions": n, "right_place": share(sum(r.right_place for r in records)),
            "right_document": share(sum(r.right_document for r in records)),
            "quote_has_answer": share(sum(r.quote_has_answer for r in records)),
            "right_and_quoted": share(sum(r.right_and_quoted for r in records)),
            "answered": share(sum(r.outcome == "answer" for r in records)),
            "low_confidence": share(sum(r.outcome == "low-confidence" for r in records)),
            "refused": share(sum(r.outcome == "refusal" for r in records)),
            "retrieved": share(sum(r.retrieved for r in records))}


def report(records: Sequence[Record]) -> dict[str, dict[str, dict[str, Any]]]:
    """{split: {kind or "overall": figures}}; "all" is both splits together."""
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for split in SPLITS:
        chosen = [r for r in records if split == "all" or r.split == split]
        result[split] = {kind: summarize([r for r in chosen if r.kind == kind]) for kind in KINDS}
        result[split]["overall"] = summarize(chosen)
    return result


def ask_all(folder: Path, store: Path, questions: Sequence[Question]) -> tuple[list[Record], dict[str, Any]]:
    """Ingests the folder into a fresh embedded store, then asks every question with the defaults."""
    settings = Settings(qdrant=QdrantSettings(path=store / "qdrant"),
                        redis=RedisSettings(embedded_path=store / "redis.rdb"))
    if not settings.ingest.ocr:
        raise SystemExit("ingest.ocr is off (RAGQA_INGEST__OCR): the scans would not be read")
    records = []
    with Components(settings) as parts:
        started = time.perf_counter()
        ingested = parts.pipeline.ingest(iter_sources([folder]), COLLECTION)
        ingest_s = time.perf_counter() - started
        answerer = parts.answerer
        started = time.perf_counter()
        for question in questions:
            answer = answerer.ask(AnswerRequest(question.question, COLLECTION))
            hits = parts.retriever.search(question.question, COLLECTION, top_k=answerer.top_k)
            records.append(score(question, answer, any(h.chunk.doc_id == question.doc_id for h in hits)))
        ask_s = time.perf_counter() - started
    documents = [{"doc_id": r.doc_id, "status": r.status, "chunks": r.chunks, "error": r.reason}
                 for r in sorted(ingested.results, key=lambda r: r.doc_id)]
    run = {"answer_modes": sorted({r.mode for r in records}), "top_k": answerer.top_k, "ocr": settings.ingest.ocr,
           "ingest_seconds": round(ingest_s, 1), "ask_and_retrieve_seconds": round(ask_s, 1), "documents": documents}
    return records, run


def print_report(figures: dict[str, dict[str, dict[str, Any]]], records: Sequence[Record],
                 run: dict[str, Any]) -> None:
    console = Console(width=None if sys.stdout.isatty() else 160)  # piped: wide enough for the table
    failed = [d for d in run["documents"] if d["status"] == "failed"]
    for doc in failed:
        console.print(f"[red]ingest failed[/red] {doc['doc_id']}: {doc['error']}")
    table = Table(title=f"Mixed folder: right document and place (bar {BAR}), {len(records)} questions")
    for column in ("kind", "n (dev+held)", "right place", "dev", "held-out", "right doc", "+ quote has answer",
                   "quote has answer", "answered", "low conf.", "refused", "doc retrieved"):
        table.add_column(column, justify="left" if column == "kind" else "right")
    for kind in (*KINDS, "overall"):
        every, dev, held = (figures[s][kind] for s in ("all", "dev", "heldout"))
        table.add_row(kind, f"{dev['questions']}+{held['questions']}",
                      *(fmt(x) for x in (every["right_place"], dev["right_place"], held["right_place"],
                                         every["right_document"], every["right_and_quoted"],
                                         every["quote_has_answer"], every["answered"],
                                         every["low_confidence"], every["refused"], every["retrieved"])))
    console.print(table)
    misses = Table(title="Not from the right place (MISS), or from it with a quote that lacks the answer (quote)")
    for column in ("id", "split", "miss", "expected", "outcome", "first citation", "its quote"):
        misses.add_column(column)
    for r in records:
        if not r.right_and_quoted:
            miss = "quote" if r.right_place else "MISS"
            misses.add_row(r.id, r.split, miss, place(r.expected_doc, r.expected_location), r.outcome,
                           place(r.cited_doc, r.cited_location), (r.quote or "")[:90])
    console.print(misses)


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def place(doc: str | None, location: str | None) -> str:
    return "-" if doc is None else f"{doc} ({location})" if location else doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, default=None, help="Also copy the built folder here, to look at it.")
    args = parser.parse_args()
    configure_logging("WARNING")
    if not ocr_available():
        raise SystemExit("Tesseract and pytesseract are needed for the scans: ./scripts/install.sh --dev")
    files = load_files()
    questions = load_questions(files)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "folder"
        build_folder(files, folder)
        if args.keep is not None:
            shutil.copytree(folder, args.keep, dirs_exist_ok=True)
        records, run = ask_all(folder, Path(tmp) / "store", questions)
    figures = report(records)
    overall = figures["all"]["overall"]["right_place"]
    path = write_results("mixed-folder", {
        "inputs": {"data": str(DATA.relative_to(DATA.parents[2])), "files": len(files), "questions": len(questions),
                   **run},
        "bar": BAR, "meets_bar": overall is not None and overall >= BAR,
        "results": figures, "records": [asdict(r) for r in records]})
    print_report(figures, records, run)
    print(path)


if __name__ == "__main__":
    main()
