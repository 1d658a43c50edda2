"""Retrieval evaluation: dataset readers (BEIR, cmu-qa-dev's QA-TSV) and ranking metrics.

Example::

    dataset = load_qa_tsv(Path("../shared/data/cmu-qa-dev/qa.tsv"))
    scores = score_queries(dataset, lambda q: retriever.search(q.text, "eval", top_k=100))
    scores["article_recall@5"]

BEIR relevance is per document (a corpus entry); a ranked list of chunks becomes a ranked list of
documents by first occurrence. For QA-TSV a chunk is relevant if it belongs to the question's
article, and answer-bearing if it contains a gold answer string.

The metrics need only ranked chunks:

    >>> from core.types import Chunk
    >>> def hit(doc_id: str, text: str) -> ScoredChunk:
    ...     return ScoredChunk(Chunk(f"{doc_id}#0", doc_id, 0, text, 0, len(text)), score=1.0)
    >>> query = EvalQuery("q1", "Who wrote it?", {"a.txt": 1}, answers=("Mark Twain",))
    >>> dataset = EvalDataset("toy", "qa-tsv", [EvalDocument("a.txt", "A")], [query])
    >>> ranked = [hit("b.txt", "Another article."), hit("a.txt", "It was written by Mark Twain.")]
    >>> scores = score_queries(dataset, lambda q: ranked)
    >>> scores["mrr@10"], scores["article_recall@5"], scores["answer_recall@5"], scores["queries"]
    (0.5, 1.0, 1.0, 1)
"""

from __future__ import annotations

import csv
import json
import math
import random
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from core.errors import InvalidRequest
from core.types import ScoredChunk

Kind = Literal["beir", "qa-tsv"]
CUTOFFS = (5, 10, 100)
# Yes/no and tiny answers occur in any text; they say nothing about where the answer is.
_UNINFORMATIVE = {"yes", "no", "null", "none", "true", "false"}


@dataclass(frozen=True, slots=True)
class EvalDocument:
    doc_id: str
    title: str
    path: Path | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class EvalQuery:
    query_id: str
    text: str
    relevant: dict[str, int]  # doc_id -> graded relevance
    answers: tuple[str, ...] = ()


@dataclass(slots=True)
class EvalDataset:
    name: str
    kind: Kind
    documents: list[EvalDocument]
    queries: list[EvalQuery] = field(default_factory=list)


def load_dataset(path: Path, split: str = "test") -> EvalDataset:
    """A BEIR folder (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv) or a QA-TSV file."""
    if path.is_dir() and (path / "corpus.jsonl").is_file():
        return load_beir(path, split)
    if path.is_file() and path.suffix == ".tsv":
        return load_qa_tsv(path)
    raise InvalidRequest(f"{path}: neither a BEIR folder (corpus.jsonl, queries.jsonl, qrels/) nor a QA .tsv file")


def _jsonl(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidRequest(f"{path}, line {number}: not JSON ({exc.msg})") from exc
            if not isinstance(record, dict) or "_id" not in record:
                raise InvalidRequest(f"{path}, line {number}: a record needs an \"_id\"")
            yield record


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``query-id, corpus-id, score`` rows, tab-separated, with or without a header line; graded
    or binary scores; TREC's four-column form (``qid 0 docid score``) too. Scores <= 0 are
    judged non-relevant and left out."""
    relevant: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split("\t") if "\t" in line else line.split()
            fields = [f.strip() for f in fields]
            if not any(fields):
                continue
            if len(fields) == 4:  # TREC: query, iteration (unused), document, score
                fields = [fields[0], fields[2], fields[3]]
            if len(fields) != 3:
                raise InvalidRequest(f"{path}, line {number}: expected query-id, corpus-id and score, "
                                     f"got {len(fields)} fields")
            query_id, doc_id, score = fields
            try:
                grade = int(float(score))
            except ValueError:
                if number == 1:  # a header row ("query-id corpus-id score")
                    continue
                raise InvalidRequest(f"{path}, line {number}: score {score!r} is not a number") from None
            if grade > 0:
                relevant.setdefault(query_id, {})[doc_id] = grade
    return relevant


def load_beir(folder: Path, split: str = "test") -> EvalDataset:
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        found = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        raise InvalidRequest(f"{folder}: missing qrels/{split}.tsv" + (f" (splits here: {', '.join(found)})"
                                                                        if found else ""))
    documents = [EvalDocument(str(d["_id"]), d.get("title", ""), text=d.get("text", ""))
                 for d in _jsonl(folder / "corpus.jsonl")]
    relevant = read_qrels(qrels_path)
    queries = [EvalQuery(str(q["_id"]), q.get("text", ""), relevant[str(q["_id"])])
               for q in _jsonl(folder / "queries.jsonl") if str(q["_id"]) in relevant]
    return EvalDataset(folder.name, "beir", documents, queries)


def load_qa_tsv(path: Path, articles: Path | None = None) -> EvalDataset:
    """cmu-qa-dev's format: one row per (question, answerer); broken rows are skipped."""
    root = articles or path.parent / "articles"
    csv.field_size_limit(sys.maxsize)
    grouped: dict[tuple[str, str], set[str]] = {}
    titles: dict[str, str] = {}
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        width = len(header)
        for row in reader:
            if len(row) != width or not row[1].strip() or not row[5].strip():
                continue
            title, question, answer, article = row[0], row[1].strip(), row[2].strip(), row[5].strip()
            doc_id = article.removeprefix("data/") + ".txt"
            titles[doc_id] = title.replace("_", " ")
            answers = grouped.setdefault((doc_id, question), set())
            if answer and answer.upper() != "NULL":
                answers.add(answer)
    documents = [EvalDocument(doc_id, titles[doc_id], path=root / doc_id) for doc_id in sorted(titles)]
    missing = [d.path for d in documents if d.path is not None and not d.path.is_file()]
    if missing:
        raise InvalidRequest(f"{path}: article files not found, e.g. {missing[0]}")
    queries = [
        EvalQuery(f"q{i:04d}", question, {doc_id: 1}, tuple(sorted(answers)))
        for i, ((doc_id, question), answers) in enumerate(sorted(grouped.items()))
    ]
    return EvalDataset(path.stem, "qa-tsv", documents, queries)


def limit_queries(dataset: EvalDataset, limit: int) -> EvalDataset:
    """The first ``limit`` queries. A QA-TSV set keeps only the articles they ask about (a quick
    run, over fewer distractors); a BEIR corpus stays whole, since its size is part of the task."""
    queries = dataset.queries[:limit]
    documents = dataset.documents
    if dataset.kind == "qa-tsv":
        needed = {doc_id for q in queries for doc_id in q.relevant}
        documents = [d for d in documents if d.doc_id in needed]
    return EvalDataset(dataset.name, dataset.kind, documents, queries)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip(" .!?")


def split_for_answers(dataset: EvalDataset, articles: int, sample: int, off_topic: int,
                      seed: int) -> tuple[EvalDataset, list[EvalQuery], list[EvalQuery]]:
    """For an answer evaluation: ``articles`` articles to ingest (the returned subset), ``sample`` of
    the questions they answer, and ``off_topic`` questions about articles left out (to be refused)."""
    rng = random.Random(seed)
    docs = sorted(dataset.documents, key=lambda d: d.doc_id)
    if articles >= len(docs):
        raise InvalidRequest(f"--articles must leave some of the {len(docs)} articles out for off-topic questions")
    chosen = rng.sample(docs, articles)
    ids = {d.doc_id for d in chosen}
    answerable = [q for q in dataset.queries if set(q.relevant) & ids and q.answers]
    others = [q for q in dataset.queries if not set(q.relevant) & ids]
    picked = rng.sample(answerable, min(sample, len(answerable)))
    refusals = rng.sample(others, min(off_topic, len(others)))
    return EvalDataset(dataset.name, dataset.kind, chosen, dataset.queries), picked, refusals


def informative_answers(query: EvalQuery) -> list[str]:
    return [a for a in (_norm(x) for x in query.answers) if len(a) >= 3 and a not in _UNINFORMATIVE]


def _dcg(gains: Sequence[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def score_ranking(query: EvalQuery, hits: Sequence[ScoredChunk], kind: Kind) -> dict[str, float]:
    """Metrics of one ranked list; keys are stable (they become table columns)."""
    if kind == "beir":
        ranked: list[str] = []
        for hit in hits:
            if hit.chunk.doc_id not in ranked:
                ranked.append(hit.chunk.doc_id)
        gains = [float(query.relevant.get(d, 0)) for d in ranked]
        ideal: list[float] = sorted((float(v) for v in query.relevant.values()), reverse=True)
        total = len(query.relevant)
    else:
        gains = [float(query.relevant.get(h.chunk.doc_id, 0)) for h in hits]
        ideal = [1.0] * 10
        total = 0
    scores: dict[str, float] = {}
    idcg = _dcg([float(g) for g in ideal[:10]])
    scores["ndcg@10"] = _dcg(gains[:10]) / idcg if idcg else 0.0
    first = next((i for i, g in enumerate(gains[:10]) if g > 0), None)
    scores["mrr@10"] = 1.0 / (first + 1) if first is not None else 0.0
    for k in CUTOFFS:
        if kind == "beir":
            scores[f"recall@{k}"] = sum(1 for g in gains[:k] if g > 0) / total if total else 0.0
        else:
            scores[f"article_recall@{k}"] = 1.0 if any(g > 0 for g in gains[:k]) else 0.0
    if kind == "qa-tsv":
        answers = informative_answers(query)
        if answers:
            for k in CUTOFFS:
                scores[f"answer_recall@{k}"] = 1.0 if any(
                    any(a in _norm(h.chunk.text) for a in answers) for h in hits[:k]) else 0.0
    return scores


def score_queries(dataset: EvalDataset, search: Callable[[EvalQuery], Sequence[ScoredChunk]],
                  on_query: Callable[[], None] | None = None) -> dict[str, float]:
    """Mean of each metric over the queries that define it, plus ``queries`` (how many ran)."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for query in dataset.queries:
        for key, value in score_ranking(query, search(query), dataset.kind).items():
            sums[key] = sums.get(key, 0.0) + value
            counts[key] = counts.get(key, 0) + 1
        if on_query:
            on_query()
    means = {key: round(sums[key] / counts[key], 4) for key in sums}
    means["queries"] = len(dataset.queries)
    return means
