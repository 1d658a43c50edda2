"""The context guard on the fresh planted-instruction set (bench/data/injection-fresh, written blind)
and on chunks of real documents: the part of bench/guardrails.py that issue #34 asks for.

    .venv/bin/python -m bench.guardrails      # runs this as part of the whole guardrails benchmark

Recall is counted two ways: ``caught`` (the patterns flag the document, so the whole chunk is quoted,
or the learned detector flags a sentence that overlaps the planted payload: the payload itself is
quoted) and ``flagged`` (anything in the document flagged, as a document-level detector would be
scored). ``caught`` is the one that matters: a flag on another sentence leaves the payload in the
prompt. False positives are documents (or chunks) with anything flagged. Each figure is given for
``dev`` (where the detector was chosen and fit) and ``heldout`` (whole families never seen) apart.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import ROOT
from bench.injection_fresh import Attack, Benign, load
from core.types import Document
from generation.guardrails.detector import InjectionDetector
from generation.guardrails.instructions import InstructionDetector
from generation.guardrails.patterns import CONTEXT_WEIGHTS

if TYPE_CHECKING:
    from ingest.chunking import Chunker

REAL_DOCUMENTS = {
    "project docs/": [ROOT / "docs"],
    "answers-multigenre docs": sorted((ROOT / "bench" / "data" / "answers-multigenre").glob("*/docs")),
    "cmu-qa-dev articles (tests/data)": sorted((ROOT / "tests" / "data" / "cmu-qa-dev" / "articles").glob("set*")),
}


@dataclass(frozen=True, slots=True)
class Screened:
    """One document's verdicts: the patterns' (whole chunk), the learned detector's flagged sentences."""

    patterns: bool
    sentences: tuple[str, ...]

    @property
    def flagged(self) -> bool:
        return self.patterns or bool(self.sentences)


Screen = Callable[[Sequence[str]], list[Screened]]


def context_screen(learned: InstructionDetector | None) -> Screen:
    """What ``ContextGuard`` decides per chunk, with both detectors' parts kept apart."""
    patterns = InjectionDetector(weights=CONTEXT_WEIGHTS)

    def screen(texts: Sequence[str]) -> list[Screened]:
        verdicts = learned.scan_many(texts) if learned is not None else [None] * len(texts)
        return [Screened(patterns.scan(t).flagged, v.sentences if v is not None and v.flagged else ())
                for t, v in zip(texts, verdicts, strict=True)]  # fmt: skip

    return screen


def overlaps(text: str, payload: str, sentences: Iterable[str]) -> bool:
    """Whether any of ``sentences`` (as the document has them) overlaps the payload's span."""
    p0 = text.find(payload)
    p1 = p0 + len(payload)
    for sentence in sentences:
        for match in re.finditer(re.escape(sentence), text):
            if match.start() < p1 and match.end() > p0:
                return True
    return False


def caught(attack: Attack, verdict: Screened) -> bool:
    return verdict.patterns or overlaps(attack.text, attack.payload, verdict.sentences)


def rate(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def grouped(flags: Sequence[bool], keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[bool]] = defaultdict(list)
    for flag, key in zip(flags, keys, strict=True):
        groups[key].append(flag)
    return {k: {"n": len(v), "hits": sum(v), "rate": rate(v)} for k, v in sorted(groups.items())}


def attack_report(attacks: Sequence[Attack], verdicts: Sequence[Screened]) -> dict[str, Any]:
    hit = [caught(a, v) for a, v in zip(attacks, verdicts, strict=True)]
    any_flag = [v.flagged for v in verdicts]
    pattern = [v.patterns for v in verdicts]
    out: dict[str, Any] = {"n": len(attacks), "recall_caught": rate(hit), "recall_flagged": rate(any_flag),
                           "recall_patterns": rate(pattern)}  # fmt: skip
    for field in ("kind", "carrier", "language", "position", "family"):
        out[f"by_{field}"] = grouped(hit, [getattr(a, field) for a in attacks])
    mail_tables = [h for a, h in zip(attacks, hit, strict=True) if a.carrier in ("email", "table")]
    out["recall_email_and_table"] = rate(mail_tables)
    out["missed"] = [a.id for a, h in zip(attacks, hit, strict=True) if not h]
    return out


def benign_report(benign: Sequence[Benign], verdicts: Sequence[Screened]) -> dict[str, Any]:
    flags = [v.flagged for v in verdicts]
    out: dict[str, Any] = {"n": len(benign), "fpr": rate(flags),
                           "fpr_patterns": rate([v.patterns for v in verdicts])}  # fmt: skip
    for field in ("carrier", "language", "family"):
        out[f"by_{field}"] = grouped(flags, [getattr(b, field) for b in benign])
    mail_tables = [f for b, f in zip(benign, flags, strict=True) if b.carrier in ("email", "table")]
    out["fpr_email_and_table"] = rate(mail_tables)
    out["fpr_encyclopedia"] = rate([f for b, f in zip(benign, flags, strict=True) if b.carrier == "encyclopedia"])
    out["flagged"] = [{"id": b.id, "carrier": b.carrier, "family": b.family, "patterns": v.patterns,
                       "sentences": [s[:160] for s in v.sentences]}
                      for b, v in zip(benign, verdicts, strict=True) if v.flagged]  # fmt: skip
    return out


def fresh_report(screen: Screen) -> dict[str, Any]:
    """Recall per kind, carrier, language and position; false positives per carrier and family;
    ``dev`` and ``heldout`` apart."""
    attacks, benign = load()
    a_verdicts = screen([a.text for a in attacks])
    b_verdicts = screen([b.text for b in benign])
    out: dict[str, Any] = {}
    for split in ("dev", "heldout"):
        a_at = [i for i, a in enumerate(attacks) if a.split == split]
        b_at = [i for i, b in enumerate(benign) if b.split == split]
        out[split] = {"attacks": attack_report([attacks[i] for i in a_at], [a_verdicts[i] for i in a_at]),
                      "benign": benign_report([benign[i] for i in b_at], [b_verdicts[i] for i in b_at])}
    out["all"] = {"attacks": attack_report(attacks, a_verdicts), "benign": benign_report(benign, b_verdicts)}
    return out


def document_chunks(folders: Iterable[Path], chunker: Chunker) -> list[tuple[str, str]]:
    """(file, chunk) for the text files under ``folders``, parsed and chunked as ingestion does."""
    from ingest.parsing import parse_bytes

    out: list[tuple[str, str]] = []
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.suffix in (".md", ".txt")):
            parsed = parse_bytes(path.read_bytes(), path.name)
            document = Document(doc_id=path.name, title=parsed.title or path.stem, source=str(path), text=parsed.text,
                                format=parsed.format)
            out.extend((path.name, c.text) for c in chunker.chunk(document, datetime.now(UTC)))
    return out


def real_documents_report(screen: Screen, chunker: Chunker) -> dict[str, Any]:
    """False positives on chunks of the project's own docs, the multi-genre answer sets' documents
    and the cmu-qa-dev test articles (none of them ever trained on), chunked as ingestion does."""
    out: dict[str, Any] = {}
    for name, folders in REAL_DOCUMENTS.items():
        named = document_chunks(folders, chunker)
        verdicts = screen([w for _, w in named])
        out[name] = {
            "chunks": len(named), "flagged": sum(v.flagged for v in verdicts),
            "fpr": rate([v.flagged for v in verdicts]), "fpr_patterns": rate([v.patterns for v in verdicts]),
            "examples": [{"file": f, "patterns": v.patterns, "sentences": [s[:160] for s in v.sentences]}
                         for (f, _), v in zip(named, verdicts, strict=True) if v.flagged][:40],
        }  # fmt: skip
    return out
