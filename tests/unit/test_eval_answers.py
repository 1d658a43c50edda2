from __future__ import annotations

from cli.eval_answers_cmd import pick_questions
from retrieval.evaluation import EvalDataset, EvalDocument, EvalQuery


def test_pick_questions_splits_answerable_from_off_topic() -> None:
    docs = [EvalDocument(f"set1/a{i}.txt", f"A{i}") for i in range(6)]
    queries = [EvalQuery(f"q{i}{j}", f"question {i}{j}?", {f"set1/a{i}.txt": 1}, (f"answer number {i}{j}",))
               for i in range(6) for j in range(5)]
    queries.append(EvalQuery("yn", "Is it?", {"set1/a0.txt": 1}, ("yes",)))
    subset, questions = pick_questions(EvalDataset("qa", "qa-tsv", docs, queries), articles=2, sample=6,
                                       off_topic=3, seed=1)
    ingested = {d.doc_id for d in subset.documents}
    assert len(ingested) == 2
    answerable = [q for q in questions if not q.expect_refusal]
    off_topic = [q for q in questions if q.expect_refusal]
    assert len(answerable) == 6 and len(off_topic) == 3
    assert all(q.doc_id in ingested and q.answers for q in answerable)
    assert all(q.answers != ("yes",) for q in answerable)  # yes/no answers say nothing about retrieval
    article_of = {q.text: next(iter(q.relevant)) for q in queries}
    assert not {article_of[q.question] for q in off_topic} & ingested
    again = pick_questions(EvalDataset("qa", "qa-tsv", docs, queries), 2, 6, 3, seed=1)[1]
    assert again == questions
