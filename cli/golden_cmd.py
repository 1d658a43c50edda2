"""`ragqa golden update|check`: the golden set, confirmed answers that the quality gate replays.

``update`` merges the feedback on one collection's answers into a golden file (up-votes add or
replace a case, a later down-vote removes it); ``check`` replays a file in a temporary embedded
store (each case's corpus ingested, each question asked again) and exits 1 when a confirmed answer
broke. The rules are ``generation.golden``'s.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from bootstrap.components import Components
from cli.output import console, err_console, fail, print_json
from core.errors import InvalidRequest, NotFound, RagqaError
from core.settings import Settings
from generation.golden import GoldenCase, load_golden, merge_golden, replay_golden, write_golden

golden_app = typer.Typer(help="The golden set: up-voted answers that CI replays (tests/data/golden/).",
                         no_args_is_help=True)
FILE = typer.Argument(help="The golden set, JSON lines (e.g. tests/data/golden/docs.jsonl).")


@golden_app.command("update")
def update(
    ctx: typer.Context,
    path: Annotated[Path, FILE],
    collection: Annotated[str, typer.Option(help="Take the feedback on this collection's answers.")],
    corpus: Annotated[Path, typer.Option(
        help="The folder that collection was ingested from (what a replay ingests), inside the repository.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print what changed as JSON.")] = False,
) -> None:
    """Merge the up-votes (and withdraw the down-votes) of COLLECTION's answers into FILE."""
    from state.feedback import iter_feedback, to_golden_row

    settings: Settings = ctx.obj
    try:
        if not corpus.is_dir():
            raise NotFound(f"--corpus {corpus} is not a folder")
        where = Path(os.path.relpath(corpus.resolve(), Path.cwd())).as_posix()
        ratings: list[tuple[str, GoldenCase | None, str]] = []
        with Components(settings) as parts:
            for entry in iter_feedback(parts.redis.client(), settings.redis.key_prefix):
                answer = entry["answer"]
                if answer.get("collection") != collection:
                    continue
                row = to_golden_row(entry)
                if row is not None:
                    ratings.append((collection, GoldenCase.from_row(row, corpus=where), row["question"]))
                elif entry["rating"] == "down":
                    ratings.append((collection, None, answer.get("question", "")))
        merged = merge_golden(load_golden(path), ratings)
        write_golden(path, merged.cases)
    except RagqaError as exc:
        fail(exc, as_json)
    summary = {"file": str(path), "cases": len(merged.cases), "added": merged.added, "updated": merged.updated,
               "removed": merged.removed}
    if as_json:
        print_json(summary)
        return
    console.print(f"{escape(str(path))}: {len(merged.cases)} case(s); added {len(merged.added)}, updated "
                  f"{len(merged.updated)}, removed {len(merged.removed)}")


@golden_app.command("check")
def check(
    ctx: typer.Context,
    path: Annotated[Path, FILE],
    as_json: Annotated[bool, typer.Option("--json", help="Print each case's outcome as JSON.")] = False,
) -> None:
    """Replay FILE: ingest each corpus into a temporary store, ask every question again, and exit 1
    when a confirmed answer broke (a refusal instead of an answer, or its evidence no longer shown)."""
    settings: Settings = ctx.obj
    started = time.monotonic()
    try:
        cases = load_golden(path)
        if not cases:
            raise InvalidRequest(f"{path}: no golden cases")
        results = _replay(settings, cases)
    except RagqaError as exc:
        fail(exc, as_json)
    broken = [r for r in results if r["problems"]]
    if as_json:
        print_json({"file": str(path), "cases": len(results), "broken": len(broken), "results": results,
                    "seconds": round(time.monotonic() - started, 1)})
    else:
        table = Table(title=f"golden set {path}: {len(results) - len(broken)} of {len(results)} hold")
        for column in ("collection", "question", "outcome"):
            table.add_column(column)
        for r in results:
            outcome = "[red]" + escape("; ".join(r["problems"])) + "[/]" if r["problems"] else "holds"
            table.add_row(escape(r["collection"]), escape(r["question"]), outcome)
        console.print(table)
    if broken:
        err_console.print(f"{len(broken)} confirmed answer(s) broke")
        raise typer.Exit(1)


def _replay(settings: Settings, cases: list[GoldenCase]) -> list[dict[str, Any]]:
    """Every case asked again over its corpus, in a temporary embedded store (the configured index is
    never touched, and `ragqa serve` may hold it meanwhile)."""
    from ingest.sources import iter_sources

    with tempfile.TemporaryDirectory(prefix="ragqa-golden-") as tmp:
        qdrant = settings.qdrant.model_copy(update={"url": None, "path": Path(tmp) / "qdrant"})
        with Components(settings.model_copy(update={"qdrant": qdrant})) as parts:
            def load(corpus: str) -> str:
                collection = f"golden-{len(loaded)}"
                report = parts.pipeline.ingest(list(iter_sources([Path(corpus)])), collection)
                if report.failures:
                    raise InvalidRequest(f"{corpus}: {len(report.failures)} document(s) failed to ingest")
                loaded.append(corpus)
                return collection

            loaded: list[str] = []
            return [r.to_dict() for r in replay_golden(cases, load, parts.answerer.ask)]


def register(app: typer.Typer) -> None:
    app.add_typer(golden_app, name="golden")
