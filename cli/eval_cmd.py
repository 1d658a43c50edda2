"""`ragqa eval retrieval`: compare retrieval modes side by side on a BEIR folder or a QA-TSV file."""

from __future__ import annotations

import json
import time
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from bootstrap.components import Components
from cli.eval_report import Reporter, print_table, reporter, save_chart
from cli.output import console, fail, print_json
from core.errors import InvalidRequest, RagqaError
from core.settings import Settings
from core.types import FusionSpec
from ingest.sources import dataset_sources
from retrieval.evaluation import EvalDataset, limit_queries, load_dataset, score_queries

eval_app = typer.Typer(help="Measure retrieval and answer quality.", no_args_is_help=True)
# The configured default is always scored too, and marked as such.
DEFAULT_MODES = ("dense,sparse,rrf,rrf:k=20,dbsf,convex:w=1/1:g=0:s=0:f=0,convex:w=2/1:g=0:s=0:f=0,"
                 "convex:w=1/1:f=0,convex:w=2/1:f=0,convex:w=4/1:f=0")


def parse_mode(text: str, base: FusionSpec) -> FusionSpec:
    """`dense`, `sparse`, `dbsf`, `rrf`, `rrf:k=20`, `rrf:w=2/1` (dense/sparse weights), `convex:g=0`
    (the lexical gate), `convex:s=0` (the dense spread floor), `convex:f=0.7/0.25` (BM25's weight
    factor when its list is flat, `f=0` off), combinable; unset options are the configured ones."""
    name, _, options = text.strip().partition(":")
    if name not in ("dense", "sparse", "rrf", "dbsf", "convex"):
        raise InvalidRequest(f"unknown mode {text!r}: use dense, sparse, rrf[:k=N][:w=D/S][:g=G], "
                             "convex[:w=D/S][:g=G][:s=S][:f=R/W], dbsf[:g=G]")
    spec = FusionSpec(name, base.rrf_k, 1.0, 1.0, base.lexical_gate,  # type: ignore[arg-type]
                      base.dense_spread_floor if name == "convex" else 0.0,
                      base.flat_bm25_ratio if name == "convex" else 0.0, base.flat_bm25_weight)
    for option in filter(None, options.split(":")):
        key, _, value = option.partition("=")
        try:
            if key == "k":
                spec = replace(spec, rrf_k=int(value))
            elif key == "w":
                dense, _, sparse = value.partition("/")
                spec = replace(spec, dense_weight=float(dense), sparse_weight=float(sparse))
            elif key == "g":
                gate = float(value)
                if not 0 <= gate <= 1:
                    raise ValueError(value)
                spec = replace(spec, lexical_gate=gate)
            elif key == "f" and name == "convex":
                ratio, _, weight = value.partition("/")
                spec = replace(spec, flat_bm25_ratio=float(ratio), flat_bm25_weight=float(weight or 1.0))
                if not (0 <= spec.flat_bm25_ratio <= 1 and 0 <= spec.flat_bm25_weight <= 1):
                    raise ValueError(value)
            elif key == "s" and name == "convex":
                spread = float(value)
                if not 0 <= spread <= 2:
                    raise ValueError(value)
                spec = replace(spec, dense_spread_floor=spread)
            else:
                raise ValueError(key)
        except ValueError as exc:
            raise InvalidRequest(f"bad mode option {option!r} in {text!r}") from exc
    return spec


@eval_app.command("retrieval")
def eval_retrieval(
    ctx: typer.Context,
    dataset_path: Annotated[Path, typer.Argument(metavar="DATASET", help="BEIR folder or QA .tsv file.")],
    modes: Annotated[str, typer.Option(help="Comma-separated modes to compare.")] = DEFAULT_MODES,
    rerank: Annotated[bool, typer.Option(help="Also run each mode with the configured reranker.")] = False,
    limit: Annotated[int | None, typer.Option(
        help="Only the first N queries; a QA-TSV set then ingests only their articles.")] = None,
    split: Annotated[str, typer.Option(help="BEIR qrels split: qrels/SPLIT.tsv.")] = "test",
    out: Annotated[Path, typer.Option(help="Folder for the JSON results and the PNG chart.")] = Path("artifacts/eval"),
    keep: Annotated[bool, typer.Option(help="Keep the temporary collection.")] = False,
    collection: Annotated[str | None, typer.Option(
        help="Ingest into this collection (unchanged documents are skipped, so a kept one is reused).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Ingest a dataset into a temporary collection and score every retrieval mode on it."""
    settings: Settings = ctx.obj
    try:
        dataset = load_dataset(dataset_path, split)
        if limit:
            dataset = limit_queries(dataset, limit)
        default = settings.retrieval.fusion_spec()
        specs = [parse_mode(m, default) for m in modes.split(",") if m.strip()]
        if default not in specs:
            specs.append(default)
        with Components(settings) as parts:
            if rerank and parts.reranker is None:
                raise InvalidRequest("--rerank needs RAGQA_RETRIEVAL__RERANK_MODEL_PATH")
            results = _run(parts, dataset, specs, rerank, keep, quiet=as_json, collection=collection)
        results["default"] = default.label()
    except RagqaError as exc:
        fail(exc, as_json)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / f"retrieval-{dataset.name}.json"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    chart = save_chart(results, out / f"retrieval-{dataset.name}.png")
    if as_json:
        print_json(results)
        return
    print_table(results)
    console.print(f"results: {escape(str(json_path))}" + (f", chart: {chart}" if chart else ""))


def _run(parts: Components, dataset: EvalDataset, specs: list[FusionSpec], rerank: bool, keep: bool,
         quiet: bool, collection: str | None = None) -> dict[str, Any]:
    collection = collection or f"eval-{dataset.name}-{int(time.time())}"
    # A collection that was there before this run is the caller's: never drop it.
    keep = keep or parts.index.collection_exists(collection)
    runs: dict[str, dict[str, float]] = {}
    with reporter() if not quiet else nullcontext(Reporter(None, silent=True)) as report_to:
        step = report_to.step("ingest", len(dataset.documents))
        report = parts.pipeline.ingest(dataset_sources(dataset), collection, on_result=lambda _: step.advance())
        try:
            if report.failures:
                raise InvalidRequest(f"{len(report.failures)} documents failed to ingest: {report.failures[0].reason}")
            # Counted in the index: a reused collection writes no chunks but searches them all.
            chunks = parts.index.count(collection)
            for spec in specs:
                for with_rerank in ([False, True] if rerank else [False]):
                    label = spec.label() + (" +rerank" if with_rerank else "")
                    step = report_to.step(label, len(dataset.queries))
                    started = time.perf_counter()
                    scores = score_queries(
                        dataset,
                        lambda q, s=spec, r=with_rerank: parts.retriever.search(  # type: ignore[misc]
                            q.text, collection, top_k=100, fusion=s, rerank=r),
                        on_query=step.advance,
                    )
                    elapsed = time.perf_counter() - started
                    scores["ms_per_query"] = round(1000 * elapsed / max(1, len(dataset.queries)), 2)
                    runs[label] = scores
        finally:
            if not keep:
                parts.index.drop_collection(collection)
    return {"dataset": dataset.name, "kind": dataset.kind, "documents": len(dataset.documents),
            "chunks": chunks, "queries": len(dataset.queries),
            "collection": collection if keep else None, "modes": runs}


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")
