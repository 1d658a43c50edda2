"""Fusion policies scored offline on the candidate lists `bench.fusion_study` dumped.

Each policy is a ``FusionSpec`` run through the retriever's own functions (the lexical gate,
``dense_share``, ``convex_fusion``), so what is scored here is what ``HybridRetriever`` does.
The grid below is the one the default was picked from: the lexical gate, the flatness threshold
and BM25's weight when flat, each at a few values, picked by the worst margin over the best
single retriever across all development parts, then the mean.
"""

from __future__ import annotations

import itertools
import statistics
from functools import cache

from rich.console import Console
from rich.table import Table

from bench.common import write_results
from bench.fusion_study import Policy, QueryLists, StudySet, evaluate, metric
from core.types import FusionSpec, ScoredChunk
from retrieval.search import bm25_flatness, convex_fusion, dense_share, lexical_coverage
from retrieval.sparse import Bm25SparseEncoder

DEPTH = 50  # RetrievalSettings.candidates: the depth convex fusion scales each list over


@cache
def _encoder() -> Bm25SparseEncoder:
    return Bm25SparseEncoder()


_coverage: dict[int, float] = {}


def coverage(item: QueryLists) -> float:
    key = id(item)
    if key not in _coverage:
        query = _encoder().encode_query(item.query.text)
        _coverage[key] = lexical_coverage(query, item.sparse[0], _encoder()) if item.sparse else 0.0
    return _coverage[key]


def run_spec(spec: FusionSpec) -> Policy:
    def run(item: QueryLists) -> list[ScoredChunk]:
        if spec.mode == "dense" or not item.sparse:
            return list(item.dense)
        if spec.mode == "sparse":
            return list(item.sparse)
        if spec.lexical_gate and coverage(item) < spec.lexical_gate:
            return list(item.dense)
        return convex_fusion(item.dense, item.sparse, dense_share(spec, item.sparse), depth=DEPTH,
                             dense_spread_floor=spec.dense_spread_floor)
    return run


def convex(dense_weight: float = 1.0, gate: float = 0.5, spread: float = 0.35, flat_ratio: float = 0.0,
           flat_weight: float = 1.0) -> FusionSpec:
    return FusionSpec("convex", 60, dense_weight, 1.0, gate, spread, flat_ratio, flat_weight)


def baselines() -> dict[str, FusionSpec]:
    return {"dense": FusionSpec("dense"), "sparse": FusionSpec("sparse"),
            "previous default": convex(), "convex 2/1": convex(2.0), "convex 4/1": convex(4.0)}


def grid() -> list[FusionSpec]:
    return [convex(1.0, gate, 0.35, ratio, weight)
            for gate, ratio, weight in itertools.product((0.4, 0.5, 0.6), (0.5, 0.6, 0.7, 0.8), (0.25, 0.5))]


_scores: dict[tuple[FusionSpec, str, bool | None], float] = {}


def score(study: StudySet, spec: FusionSpec, part: bool | None) -> float:
    key = (spec, study.name, part)
    if key not in _scores:
        _scores[key] = evaluate(study, run_spec(spec), part)[metric(study)]
    return _scores[key]


def margins(sets: list[StudySet], spec: FusionSpec, part: bool | None) -> list[float]:
    """Per set: the policy's metric minus the better single retriever's."""
    out = []
    for study in sets:
        best = max(score(study, FusionSpec(m), part) for m in ("dense", "sparse"))
        out.append(score(study, spec, part) - best)
    return out


def pick(sets: list[StudySet]) -> FusionSpec:
    """Best worst-case margin over the development parts, then the best mean metric."""
    def rank(spec: FusionSpec) -> tuple[float, float]:
        values = [score(s, spec, False) for s in sets]
        return round(min(margins(sets, spec, False)), 3), statistics.mean(values)
    return max(grid(), key=rank)


def report(sets: list[StudySet]) -> None:
    console = Console(width=200)
    chosen = pick(sets)
    console.print(f"picked on the development parts: [bold]{chosen.label()}[/]")
    specs = {**baselines(), f"picked: {chosen.label()}": chosen}
    results: dict[str, object] = {"picked": chosen.label(), "grid": [g.label() for g in grid()]}
    for part in (False, True):
        results["held-out" if part else "development"] = {
            name: {s.name: round(score(s, spec, part), 4) for s in sets} for name, spec in specs.items()}
    write_results("fusion-study", results)
    for part in (False, True):
        table = Table(title=f"{'held-out' if part else 'development'} queries (✗: below the best single - 0.005)")
        table.add_column("policy")
        for study in sets:
            n = sum(1 for q in study.queries if q.held_out == part)
            table.add_column(f"{study.name} ({n})\n{metric(study)}", justify="right")
        for name, spec in specs.items():
            values = [score(s, spec, part) for s in sets]
            gaps = margins(sets, spec, part)
            table.add_row(name, *[f"{v:.3f}" + (" ✗" if g < -0.005 else "") for v, g in zip(values, gaps, strict=True)])
        console.print(table)
    console.print(f"BM25 flat (10th/best >= {chosen.flat_bm25_ratio:g}) share of queries: " + ", ".join(
        f"{s.name} {statistics.mean(bm25_flatness(q.sparse) >= chosen.flat_bm25_ratio for q in s.queries):.0%}"
        for s in sets))
