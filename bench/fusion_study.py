"""Per-query fusion study: how much each query gains from BM25, and which query-time signals say so.

    .venv/bin/python -m bench.fusion_study dump DATASET...   # ingest once, keep both candidate lists
    .venv/bin/python -m bench.fusion_study report             # every policy on every dumped set

``dump`` ingests a dataset into a kept embedded collection (``artifacts/fusion-study/``) and
stores, per query, the dense and the BM25 candidate lists the retriever would fuse (200 each,
with texts): every fusion policy can then be scored offline in milliseconds, on the same lists
the real search fuses. ``report`` scores the candidate policies on the development part of every
set and on the held-out part (a quarter of the queries, or of the articles for QA-TSV, chosen by
hash), so a policy is picked on the sets together and checked on queries it was not picked on.
"""

from __future__ import annotations

import argparse
import os
import pickle
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bench.common import ROOT
from core.types import FusionSpec, ScoredChunk
from retrieval.evaluation import EvalDataset, EvalQuery, load_dataset, score_ranking
from retrieval.search import drop_near_duplicates

STUDY = ROOT / "artifacts" / "fusion-study"
CANDIDATES = 200


@dataclass(slots=True)
class QueryLists:
    query: EvalQuery
    dense: list[ScoredChunk]
    sparse: list[ScoredChunk]
    held_out: bool


@dataclass(slots=True)
class StudySet:
    name: str
    kind: str
    queries: list[QueryLists]


def held_out(dataset: EvalDataset, query: EvalQuery) -> bool:
    # QA-TSV questions about one article are alike: hold out whole articles.
    key = next(iter(query.relevant)) if dataset.kind == "qa-tsv" else query.query_id
    return zlib.crc32(f"{dataset.name}:{key}".encode()) % 4 == 0


def dump(paths: Sequence[Path]) -> None:
    from bootstrap.components import Components
    from core.settings import Settings
    from ingest.sources import dataset_sources

    settings = Settings()
    settings.qdrant.path = STUDY / "store"
    with Components(settings) as parts:
        for path in paths:
            dataset = load_dataset(path)
            collection = f"study-{dataset.name}"
            report = parts.pipeline.ingest(dataset_sources(dataset), collection)
            if report.failures:
                first = report.failures[0].reason
                raise SystemExit(f"{dataset.name}: {len(report.failures)} documents failed: {first}")
            lists = []
            for query in dataset.queries:
                dense_vec = parts.embedder.embed_query(query.text)
                sparse_vec = parts.sparse.encode_query(query.text)
                dense = parts.index.query(collection, dense_vec, None, FusionSpec("dense"), CANDIDATES)
                sparse = (parts.index.query(collection, dense_vec, sparse_vec, FusionSpec("sparse"), CANDIDATES)
                          if sparse_vec.indices else [])
                lists.append(QueryLists(query, dense, sparse, held_out(dataset, query)))
            STUDY.mkdir(parents=True, exist_ok=True)
            with (STUDY / f"{dataset.name}.pkl").open("wb") as handle:
                pickle.dump(StudySet(dataset.name, dataset.kind, lists), handle)
            print(f"{dataset.name}: {len(lists)} queries, {report.chunks_written} chunks written")


class _Unpickler(pickle.Unpickler):
    # `python -m bench.fusion_study dump` pickles these classes as __main__'s.
    def find_class(self, module: str, name: str) -> object:
        return super().find_class(__name__ if module == "__main__" else module, name)


def load_sets() -> list[StudySet]:
    sets = []
    for path in sorted(STUDY.glob("*.pkl")):
        with path.open("rb") as handle:
            sets.append(_Unpickler(handle).load())
    return sets


Policy = Callable[[QueryLists], list[ScoredChunk]]


def metric(study: StudySet) -> str:
    return "article_recall@5" if study.kind == "qa-tsv" else "ndcg@10"


def evaluate(study: StudySet, policy: Policy, part: bool | None = None) -> dict[str, float]:
    sums: dict[str, float] = {}
    n = 0
    for item in study.queries:
        if part is not None and item.held_out != part:
            continue
        ranked = drop_near_duplicates(policy(item), 0.9, keep=100)
        for key, value in score_ranking(item.query, ranked, study.kind).items():  # type: ignore[arg-type]
            sums[key] = sums.get(key, 0.0) + value
        n += 1
    return {k: v / max(1, n) for k, v in sums.items()} | {"n": n}


def with_dense_scores(item: QueryLists) -> list[ScoredChunk]:
    cosines = {h.chunk.chunk_id: h.score for h in item.dense}
    return [replace(h, dense_score=cosines.get(h.chunk.chunk_id, h.dense_score)) for h in item.sparse]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    dump_cmd = sub.add_parser("dump")
    dump_cmd.add_argument("datasets", nargs="+", type=Path)
    sub.add_parser("report")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.command == "dump":
        dump(args.datasets)
    else:
        from bench.fusion_policies import report

        report(load_sets())


if __name__ == "__main__":
    main()
