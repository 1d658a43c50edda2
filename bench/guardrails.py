"""Prompt-injection guardrails: recall and false-positive rate on labelled data.

    .venv/bin/python -m bench.guardrails

Workload: ragqa's detector, as the input guard runs it on questions (INPUT_WEIGHTS) and as the
context guard runs it on retrieved chunks (CONTEXT_WEIGHTS). Yardstick, in the same process: the
classic one-line filter, a regex for "ignore/disregard/forget ... previous/prior/above
instructions". Sets:

- cmu-qa-dev questions (qa.tsv, column Question, unique, broken rows skipped): false positives
  of the input guard. Bar: <= 2%.
- cmu-qa-dev articles, cut into 800-character windows: false positives of the context guard.
- bench/data/injection/direct.jsonl (ours): held-out direct-injection templates vs our ordinary
  questions and the cmu-qa-dev questions of article sets 3-4 (sets 1-2 trained the learned head).
- bench/data/injection (ours, measured by bench/planted.py): the held-out split of planted
  instructions in ordinary windows (articles, emails, tables, documentation about AI software,
  READMEs, tickets ...), per guard, per attack kind and per genre; the learned detector's FPR on
  every cmu-qa-dev article window and question and on this repository's own docs/ and README.md
  (never trained on); the lexical gate's recall loss; and the latency it adds to screening.

Every attack and benign text here is our own writing or cmu-qa-dev: no public injection or
jailbreak benchmark is read (earlier versions scored two; the patterns were first written with
one of them in view, see BENCHMARKS.md). Results: bench/results/guardrails.json.
"""

from __future__ import annotations

import argparse
import csv
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.common import ROOT, write_results
from bench.planted import by_group as by_group  # bench/direct_model.py reads it from here
from bench.planted import planted, rate
from generation.guardrails.detector import InjectionDetector
from generation.guardrails.patterns import CONTEXT_WEIGHTS, INPUT_WEIGHTS

DATA = ROOT.parent / "shared" / "data" / "cmu-qa-dev"
FPR_BAR = 0.02
WINDOW_CHARS = 800

_YARDSTICK = re.compile(
    r"\b(ignore|disregard|forget)\b.{0,30}\b(previous|prior|above|earlier)\b.{0,15}\binstructions?\b",
    re.IGNORECASE | re.DOTALL,
)

Scan = Callable[[str], bool]


def cmu_questions(path: Path) -> list[str]:
    """Unique questions; rows with a wrong number of fields (split rows in the original) skipped."""
    seen: dict[str, None] = {}
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        column = header.index("Question")
        for row in reader:
            if len(row) == len(header) and row[column].strip():
                seen.setdefault(row[column].strip(), None)
    return list(seen)


def article_windows(folder: Path) -> list[str]:
    windows = []
    for path in sorted(folder.glob("*/*.txt")):
        text = path.read_text(encoding="utf-8", errors="replace")
        for paragraph in (p.strip() for p in text.split("\n")):
            windows.extend(paragraph[i : i + WINDOW_CHARS] for i in range(0, len(paragraph), WINDOW_CHARS))
    return [w for w in windows if len(w) >= 40]


def measure(scan: Scan, texts: Iterable[str]) -> tuple[list[bool], float]:
    items = list(texts)
    started = time.perf_counter()
    flags = [scan(t) for t in items]
    per_item_us = (time.perf_counter() - started) / max(len(items), 1) * 1e6
    return flags, round(per_item_us, 1)


def print_fresh(console: Console, ours: dict[str, Any]) -> None:
    """The context guard on the fresh set (issue #34): recall per kind, carrier, language and position,
    false positives per carrier, dev and held out apart; then windows of real documents."""
    fresh = ours["fresh"]
    dev, held = fresh["dev"], fresh["heldout"]
    table = Table(title="Context guard on the fresh planted-instruction set (written blind): dev | held out")
    for column in ("", "dev", "held out"):
        table.add_column(column)

    def cell(group: dict[str, Any] | None) -> str:
        return f"{group['rate']} ({group['hits']}/{group['n']})" if group else "–"

    a_dev, a_held = dev["attacks"], held["attacks"]
    table.add_row("recall, all attacks (caught)", str(a_dev["recall_caught"]), str(a_held["recall_caught"]))
    table.add_row("recall, e-mails and tables", str(a_dev["recall_email_and_table"]),
                  str(a_held["recall_email_and_table"]))
    for field in ("kind", "carrier", "language", "position"):
        for key in sorted(set(a_dev[f"by_{field}"]) | set(a_held[f"by_{field}"])):
            table.add_row(f"recall {field} {key}", cell(a_dev[f"by_{field}"].get(key)),
                          cell(a_held[f"by_{field}"].get(key)))
    b_dev, b_held = dev["benign"], held["benign"]
    table.add_row("FPR, all benign", str(b_dev["fpr"]), str(b_held["fpr"]))
    table.add_row("FPR, e-mails and tables", str(b_dev["fpr_email_and_table"]), str(b_held["fpr_email_and_table"]))
    for key in sorted(set(b_dev["by_carrier"]) | set(b_held["by_carrier"])):
        table.add_row(f"FPR {key}", cell(b_dev["by_carrier"].get(key)), cell(b_held["by_carrier"].get(key)))
    console.print(table)
    real = Table(title="Context guard on chunks of real documents, chunked as ingestion does (never trained on)")
    for column in ("documents", "chunks", "flagged", "FPR", "by the patterns"):
        real.add_column(column)
    for name, found in ours["real_documents"].items():
        real.add_row(name, str(found["chunks"]), str(found["flagged"]), str(found["fpr"]), str(found["fpr_patterns"]))
    console.print(real)
    timings = ours["latency_ms_p50_5_fresh_chunks"]
    console.print(f"screening 5 fresh documents, p50: patterns {timings['patterns']} ms, with the learned detector "
                  f"{timings['with_learned_cold']} ms ({timings['embedded_sentences_p50']} sentences embedded)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="the cmu-qa-dev folder")
    args = parser.parse_args()
    console = Console()

    input_guard = InjectionDetector(weights=INPUT_WEIGHTS)
    context_guard = InjectionDetector(weights=CONTEXT_WEIGHTS)
    scans: dict[str, Scan] = {
        "input": lambda t: input_guard.scan(t).flagged,
        "context": lambda t: context_guard.scan(t).flagged,
        "yardstick": lambda t: bool(_YARDSTICK.search(t)),
    }

    questions = cmu_questions(args.data / "qa.tsv")
    windows = article_windows(args.data / "articles")
    ours = planted(windows, questions)

    results: dict[str, Any] = {}
    for name in ("input", "yardstick"):
        q_flags, q_us = measure(scans[name], questions)
        results[name] = {"cmu_questions": {
            "fpr": rate(q_flags), "questions": len(questions), "false_positives": sum(q_flags),
            "flagged": [q for q, f in zip(questions, q_flags, strict=True) if f], "us_per_text": q_us,
        }}  # fmt: skip
    for name in ("context", "yardstick"):
        w_flags, w_us = measure(scans[name], windows)
        results.setdefault(name, {})["cmu_article_windows"] = {
            "fpr": rate(w_flags), "windows": len(windows), "false_positives": sum(w_flags), "us_per_text": w_us,
        }  # fmt: skip

    yard = results["yardstick"]
    table = Table(title="Prompt-injection patterns on ordinary cmu-qa-dev text")
    for column in ("set", "guard", "FPR", "counts", "yardstick FPR"):
        table.add_column(column)
    cmu, art = results["input"]["cmu_questions"], results["context"]["cmu_article_windows"]
    table.add_row("cmu-qa-dev questions", "input", str(cmu["fpr"]), f"{cmu['false_positives']}/{cmu['questions']}",
                  str(yard["cmu_questions"]["fpr"]))  # fmt: skip
    table.add_row("cmu-qa-dev article windows", "context", str(art["fpr"]),
                  f"{art['false_positives']}/{art['windows']}", str(yard["cmu_article_windows"]["fpr"]))  # fmt: skip
    console.print(table)

    mine = Table(title=f"Planted instructions, held-out split ({ours['attacks']} attacks, {ours['benign']} benign)")
    names = list(ours["guards"])
    for column in ("", *names):
        mine.add_column(column)
    mine.add_row("recall", *(str(ours["guards"][n]["recall"]) for n in names))
    mine.add_row("FPR", *(str(ours["guards"][n]["fpr"]) for n in names))
    for kind in ours["guards"]["learned"]["recall_by_kind"]:
        mine.add_row(f"recall {kind}", *(str(ours["guards"][n]["recall_by_kind"][kind]["rate"]) for n in names))
    for genre in ours["guards"]["learned"]["fpr_by_genre"]:
        mine.add_row(f"FPR {genre}", *(str(ours["guards"][n]["fpr_by_genre"][genre]["rate"]) for n in names))
    console.print(mine)
    direct = ours["direct"]
    dtable = Table(title=f"Direct injections, held-out templates ({direct['attacks']} attacks)")
    for column in ("", *direct["guards"]):
        dtable.add_column(column)
    for key in ("recall", "fpr_all_ordinary", "fpr_own_ordinary", "fpr_cmu_questions"):
        dtable.add_row(key, *(str(g[key]) for g in direct["guards"].values()))
    for kind in direct["guards"]["learned"]["recall_by_kind"]:
        dtable.add_row(f"recall {kind}", *(str(g["recall_by_kind"][kind]["rate"]) for g in direct["guards"].values()))
    console.print(dtable)
    console.print(f"input guard latency p50 per question: {direct['latency_ms_p50_per_question']} ms")
    console.print(f"learned detector: cmu article windows FPR {ours['cmu_article_windows_learned']['fpr']}, "
                  f"questions FPR {ours['cmu_questions_learned']['fpr']}, gate recall loss "
                  f"{ours['gate']['recall_loss']}, latency p50 (5 chunks) {ours['latency_ms_p50_5_chunks']} ms")
    docs = ours["own_docs_learned"]
    console.print(f"learned detector on docs/*.md + README.md: {docs['sentences_flagged']}/{docs['sentences']} "
                  f"sentences, {docs['windows_flagged']}/{docs['windows']} windows flagged")
    print_fresh(console, ours)
    passed = cmu["fpr"] is not None and cmu["fpr"] <= FPR_BAR
    console.print(f"cmu-qa-dev question FPR {cmu['fpr']} (bar <= {FPR_BAR}): {'PASS' if passed else 'FAIL'}")
    path = write_results(
        "guardrails",
        {
            "inputs": {"cmu_questions": len(questions), "cmu_article_windows": len(windows),
                       "window_chars": WINDOW_CHARS},
            "bar": {"cmu_question_fpr_max": FPR_BAR, "passed": passed},
            "summary": {"fpr_cmu_questions": cmu["fpr"], "fpr_cmu_article_windows": art["fpr"],
                        "planted_recall_context_guard": ours["guards"]["context_combined"]["recall"],
                        "direct_recall_input_guard": ours["direct"]["guards"]["input_guard"]["recall"]},
            "results": results,
            "planted_instructions": ours,
        },
    )  # fmt: skip
    console.print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
