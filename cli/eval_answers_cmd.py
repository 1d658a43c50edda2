"""`ragqa eval answers`: answer quality on a QA-TSV set (answer modes and prompt versions side by
side), on eval rows in JSON lines (``ragqa feedback export --format eval``: asked of the collections
they name, already in the index), or on the multi-genre sets (``--genres``: the three outcomes per
genre and per question form)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from bootstrap.components import Components
from cli.eval_cmd import eval_app
from cli.output import console, fail, print_json
from core.errors import InvalidRequest, RagqaError
from core.settings import Settings
from generation.eval_rows import load_eval_rows
from generation.evaluation import EvalQuestion, EvalReport, evaluate_answers
from ingest.parsing import parse_bytes
from ingest.sources import dataset_sources
from retrieval.evaluation import EvalDataset, informative_answers, load_qa_tsv, split_for_answers


def pick_questions(dataset: EvalDataset, articles: int, sample: int, off_topic: int,
                   seed: int) -> tuple[EvalDataset, list[EvalQuestion]]:
    """The articles to ingest, and the questions to ask as ``evaluate_answers`` takes them."""
    subset, picked, refusals = split_for_answers(dataset, articles, sample, off_topic, seed)
    questions = [EvalQuestion(q.text, q.answers, doc_id=next(iter(q.relevant)), yes_no=not informative_answers(q))
                 for q in picked]
    questions += [EvalQuestion(q.text, (), doc_id=None, expect_refusal=True) for q in refusals]
    return subset, questions


def eval_answers(
    ctx: typer.Context,
    dataset_path: Annotated[Path | None, typer.Option(
        "--dataset", help="A QA .tsv file (cmu-qa-dev format: its articles are ingested into a temporary collection), "
        "or eval rows in .jsonl (`ragqa feedback export --format eval`: asked of the collections they name).")] = None,
    genres_path: Annotated[Path | None, typer.Option(
        "--genres", help="A folder of genre sets (bench/data/answers-multigenre): per genre and question form, "
        "the right evidence shown, refusals, low-confidence and confident-wrong answers.")] = None,
    sample: Annotated[int, typer.Option(help="Answerable questions to ask.")] = 30,
    off_topic: Annotated[int, typer.Option(help="Questions about articles not ingested (should be refused).")] = 10,
    articles: Annotated[int, typer.Option(help="Articles to ingest.")] = 8,
    prompt_version: Annotated[list[str] | None, typer.Option(help="Prompt version; give two for an A/B.")] = None,
    mode: Annotated[list[str] | None, typer.Option(
        help="Answer mode (extractive, generative, auto); repeat to compare. Default: the configured one.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for the sample.")] = 13,
    collection: Annotated[str | None, typer.Option(
        help="For .jsonl rows: ask every row of this collection instead of the one it names.")] = None,
    out: Annotated[Path, typer.Option(help="Folder for the JSON results.")] = Path("artifacts/eval"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Gold containment, token F1, citations and quotes, grounding, refusals and per-stage latency of real
    answers, for each answer mode (and prompt version) side by side."""
    settings: Settings = ctx.obj
    versions = prompt_version or [settings.llm.prompt_version]
    if (dataset_path is None) == (genres_path is None):
        fail(InvalidRequest("give --dataset (a QA .tsv file) or --genres (a folder of genre sets)"), as_json)
    if genres_path is not None:
        from cli.eval_genres import eval_genres

        eval_genres(settings, genres_path, mode[0] if mode else None, out, as_json)
        return
    assert dataset_path is not None
    try:
        if len(versions) > 2:
            raise InvalidRequest("give one or two --prompt-version values")
        for name in mode or []:
            if name not in ("extractive", "generative", "auto"):
                raise InvalidRequest(f"unknown --mode {name!r}: use extractive, generative or auto")
        if dataset_path.suffix not in (".tsv", ".jsonl"):
            raise InvalidRequest(f"{dataset_path}: --dataset takes a QA .tsv file or eval rows in .jsonl")
        rows = load_eval_rows(dataset_path, collection) if dataset_path.suffix == ".jsonl" else None
        if rows is None:
            subset, questions = pick_questions(load_qa_tsv(dataset_path), articles, sample, off_topic, seed)
        with Components(settings) as parts:
            variants = [(m, v) for m in (mode or [parts.answerer.mode]) for v in versions]
            results = (_run_rows(parts, dataset_path.stem, rows, variants, quiet=as_json) if rows is not None
                       else _run(parts, subset, questions, variants, quiet=as_json))
    except RagqaError as exc:
        fail(exc, as_json)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"answers-{results['dataset']}.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    if as_json:
        print_json(results)
        return
    _table(results)
    console.print(f"results: {escape(str(path))}")


def _run(parts: Components, subset: EvalDataset, questions: list[EvalQuestion], variants: list[tuple[str, str]],
         quiet: bool) -> dict[str, Any]:
    collection = f"eval-answers-{int(time.time())}"
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    runs: dict[str, Any] = {}
    documents = _document_texts(subset)
    with Progress(*columns, console=console, disable=quiet) as progress:
        task = progress.add_task("ingest", total=len(subset.documents))
        parts.pipeline.ingest(dataset_sources(subset), collection, on_result=lambda _: progress.advance(task))
        try:
            for mode, version in variants:
                label = mode if mode == "extractive" else f"{mode}/{version}"
                if label in runs:
                    continue
                task = progress.add_task(f"answers ({label})", total=len(questions))
                report = evaluate_answers(parts.answerer, questions, collection, documents=documents,
                                          on_record=lambda _i, _r, t=task: progress.advance(t),  # type: ignore[misc]
                                          mode=mode, prompt_version=version)  # type: ignore[arg-type]
                runs[label] = {"summary": report.summary(), "records": report.to_dict()["records"]}
        finally:
            parts.index.drop_collection(collection)
    result: dict[str, Any] = {"dataset": subset.name, "articles": [d.doc_id for d in subset.documents],
                              "answerable": sum(not q.expect_refusal for q in questions),
                              "off_topic": sum(q.expect_refusal for q in questions), "runs": runs}
    if len(runs) == 2:
        (name_a, run_a), (name_b, run_b) = runs.items()
        pairs = [(x, y) for x, y in zip(run_a["records"], run_b["records"], strict=True)
                 if x["error"] is None and y["error"] is None]
        result["ab"] = {name_a: sum(x["f1"] > y["f1"] for x, y in pairs),
                        name_b: sum(y["f1"] > x["f1"] for x, y in pairs),
                        "ties": sum(x["f1"] == y["f1"] for x, y in pairs)}
    return result


def _run_rows(parts: Components, name: str, rows: dict[str, list[EvalQuestion]], variants: list[tuple[str, str]],
              quiet: bool) -> dict[str, Any]:
    """Eval rows asked of the collections they name (already in the index: nothing is ingested)."""
    missing = [c for c in rows if not parts.index.collection_exists(c)]
    if missing:
        raise InvalidRequest(f"collection {missing[0]!r}, named by {len(rows[missing[0]])} row(s), is not in the "
                             "index: ingest it, or give --collection")
    questions = [q for group in rows.values() for q in group]
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    runs: dict[str, Any] = {}
    with Progress(*columns, console=console, disable=quiet) as progress:
        for mode, version in variants:
            label = mode if mode == "extractive" else f"{mode}/{version}"
            if label in runs:
                continue
            task = progress.add_task(f"answers ({label})", total=len(questions))

            def advance(_i: int, _r: object, t: TaskID = task) -> None:
                progress.advance(t)

            reports = [evaluate_answers(parts.answerer, group, collection, mode=mode,  # type: ignore[arg-type]
                                        prompt_version=version, on_record=advance)
                       for collection, group in rows.items()]
            report = EvalReport(reports[0].prompt_version, reports[0].model, [r for x in reports for r in x.records],
                                expect_refusal=[q.expect_refusal for q in questions])
            runs[label] = {"summary": report.summary(), "records": report.to_dict()["records"]}
    return {"dataset": name, "collections": {c: len(g) for c, g in rows.items()}, "articles": [],
            "answerable": sum(not q.expect_refusal for q in questions),
            "off_topic": sum(q.expect_refusal for q in questions), "runs": runs}


def _document_texts(subset: EvalDataset) -> dict[str, str]:
    """Each article's text as ingestion normalizes it: what quotes' offsets index."""
    texts: dict[str, str] = {}
    for source in dataset_sources(subset):
        try:
            texts[source.doc_id] = parse_bytes(source.read(1 << 30), source.name).text
        except RagqaError:
            continue  # ingestion reports it; its quotes then count as invalid
    return texts


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _table(results: dict[str, Any]) -> None:
    table = Table(title=f"answers on {results['dataset']}: {results['answerable']} answerable, "
                        f"{results['off_topic']} off-topic questions")
    metrics = ("first_sentence_contains_gold", "contains_gold", "f1", "exact_match", "citation_validity",
               "invalid_quotes", "grounded", "correct_refusals", "false_refusals", "low_confidence",
               "confident_wrong", "near_domain_confident", "repeats_known_wrong", "degraded_rate", "errors")
    names = ("1st sent. holds gold", "holds gold", "F1", "EM", "citation validity", "bad quotes", "grounded",
             "correct refusals", "false refusals", "low conf.", "confident wrong", "near-domain confident",
             "repeats known-wrong", "degraded", "errors")
    table.add_column("mode/prompt")
    for name in (*names, "yes/no F1", "p50 / p95 ms"):
        table.add_column(name, justify="right")
    for label, run in results["runs"].items():
        s = run["summary"]
        p50, p95 = s["latency_p50_ms"], s["latency_p95_ms"]
        table.add_row(label, *(_fmt(s.get(m)) for m in metrics), _fmt(s["yes_no"]["f1"]),
                      f"{_fmt(p50.get('total'))} / {_fmt(p95.get('total'))}")
    console.print(table)
    for label, run in results["runs"].items():
        p50 = run["summary"]["latency_p50_ms"]
        console.print(f"{label} p50 per stage (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in p50.items()))
    if "ab" in results:
        console.print(f"F1 wins per question: {results['ab']}")


def register(app: typer.Typer) -> None:
    """Adds `answers` to the `eval` group (which `cli.eval_cmd.register` puts on the app)."""
    eval_app.command("answers")(eval_answers)
