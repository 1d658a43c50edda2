"""`ragqa eval answers`: answer quality on a QA-TSV set, with an A/B of two prompt versions."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bootstrap.components import Components
from cli.eval_cmd import eval_app, to_sources
from cli.output import console, fail, print_json
from core.errors import InvalidRequest, RagqaError
from core.settings import Settings
from generation.evaluation import EvalQuestion, evaluate_answers
from retrieval.evaluation import EvalDataset, informative_answers, load_qa_tsv


def pick_questions(dataset: EvalDataset, articles: int, sample: int, off_topic: int,
                   seed: int) -> tuple[EvalDataset, list[EvalQuestion]]:
    """Ingest ``articles`` articles; ask ``sample`` of their questions and ``off_topic`` about others."""
    rng = random.Random(seed)
    docs = sorted(dataset.documents, key=lambda d: d.doc_id)
    if articles >= len(docs):
        raise InvalidRequest(f"--articles must leave some of the {len(docs)} articles out for off-topic questions")
    chosen = rng.sample(docs, articles)
    ids = {d.doc_id for d in chosen}
    answerable = [q for q in dataset.queries if set(q.relevant) & ids and informative_answers(q)]
    others = [q for q in dataset.queries if not set(q.relevant) & ids]
    picked = rng.sample(answerable, min(sample, len(answerable)))
    refusals = rng.sample(others, min(off_topic, len(others)))
    questions = [EvalQuestion(q.text, q.answers, doc_id=next(iter(q.relevant))) for q in picked]
    questions += [EvalQuestion(q.text, (), doc_id=None, expect_refusal=True) for q in refusals]
    return EvalDataset(dataset.name, dataset.kind, chosen, dataset.queries), questions


def eval_answers(
    ctx: typer.Context,
    dataset_path: Annotated[Path, typer.Option("--dataset", help="A QA .tsv file (cmu-qa-dev format).")],
    sample: Annotated[int, typer.Option(help="Answerable questions to ask.")] = 30,
    off_topic: Annotated[int, typer.Option(help="Questions about articles not ingested (should be refused).")] = 10,
    articles: Annotated[int, typer.Option(help="Articles to ingest.")] = 8,
    prompt_version: Annotated[list[str] | None, typer.Option(help="Prompt version; give two for an A/B.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for the sample.")] = 13,
    out: Annotated[Path, typer.Option(help="Folder for the JSON results.")] = Path("artifacts/eval"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Exact match, token F1, citation validity, refusals and per-stage latency of real answers."""
    settings: Settings = ctx.obj
    versions = prompt_version or [settings.llm.prompt_version]
    try:
        if len(versions) > 2:
            raise InvalidRequest("give one or two --prompt-version values")
        subset, questions = pick_questions(load_qa_tsv(dataset_path), articles, sample, off_topic, seed)
        with Components(settings) as parts:
            results = _run(parts, subset, questions, versions, quiet=as_json)
    except RagqaError as exc:
        fail(exc, as_json)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"answers-{subset.name}.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    if as_json:
        print_json(results)
        return
    _table(results)
    console.print(f"results: {path}")


def _run(parts: Components, subset: EvalDataset, questions: list[EvalQuestion], versions: list[str],
         quiet: bool) -> dict[str, Any]:
    collection = f"eval-answers-{int(time.time())}"
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    runs: dict[str, Any] = {}
    with Progress(*columns, console=console, disable=quiet) as progress:
        task = progress.add_task("ingest", total=len(subset.documents))
        parts.pipeline.ingest(to_sources(subset), collection, on_result=lambda _: progress.advance(task))
        try:
            for version in versions:
                task = progress.add_task(f"answers ({version})", total=len(questions))
                report = evaluate_answers(parts.answerer.with_prompt(version), questions, collection,
                                          on_record=lambda _i, _r, t=task: progress.advance(t))  # type: ignore[misc]
                summary = report.summary()
                answerable = [r for r, q in zip(report.records, questions, strict=True)
                              if not q.expect_refusal and r.error is None]
                summary["false_refusals"] = round(sum(r.refused for r in answerable) / max(1, len(answerable)), 4)
                runs[version] = {"summary": summary, "records": report.to_dict()["records"]}
        finally:
            parts.index.drop_collection(collection)
    result: dict[str, Any] = {"dataset": subset.name, "articles": [d.doc_id for d in subset.documents],
                              "answerable": sum(not q.expect_refusal for q in questions),
                              "off_topic": sum(q.expect_refusal for q in questions), "runs": runs}
    if len(versions) == 2:
        a, b = (runs[v]["records"] for v in versions)
        pairs = [(x, y) for x, y in zip(a, b, strict=True) if x["error"] is None and y["error"] is None]
        result["ab"] = {versions[0]: sum(x["f1"] > y["f1"] for x, y in pairs),
                        versions[1]: sum(y["f1"] > x["f1"] for x, y in pairs),
                        "ties": sum(x["f1"] == y["f1"] for x, y in pairs)}
    return result


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _table(results: dict[str, Any]) -> None:
    table = Table(title=f"answers on {results['dataset']}: {results['answerable']} answerable, "
                        f"{results['off_topic']} off-topic questions")
    metrics = ("exact_match", "f1", "citation_validity", "answers_with_citations", "correct_refusals",
               "false_refusals", "degraded_rate", "errors")
    table.add_column("prompt")
    for metric in (*metrics, "p50 retrieve ms", "p50 generate ms", "p50 total ms"):
        table.add_column(metric.replace("_", " "), justify="right")
    for version, run in results["runs"].items():
        s = run["summary"]
        p50 = s["latency_p50_ms"]
        table.add_row(version, *(_fmt(s.get(m)) for m in metrics),
                      *(_fmt(p50.get(stage)) for stage in ("retrieve", "generate", "total")))
    console.print(table)
    if "ab" in results:
        console.print(f"F1 wins per question: {results['ab']}")


def register(app: typer.Typer) -> None:
    """Adds `answers` to the `eval` group (which `cli.eval_cmd.register` puts on the app)."""
    eval_app.command("answers")(eval_answers)
