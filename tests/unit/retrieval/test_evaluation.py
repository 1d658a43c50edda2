from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.types import Chunk, ScoredChunk
from retrieval.evaluation import EvalQuery, load_beir, load_qa_tsv, score_ranking


def hits(*doc_texts: tuple[str, str]) -> list[ScoredChunk]:
    return [ScoredChunk(Chunk(f"c{i}", doc, i, text, 0, len(text)), 1.0 / (i + 1))
            for i, (doc, text) in enumerate(doc_texts)]


def test_beir_metrics_rank_documents_by_first_chunk() -> None:
    query = EvalQuery("q", "?", {"d2": 1, "d9": 1})
    ranked = hits(("d1", "x"), ("d2", "x"), ("d2", "y"), ("d3", "x"))
    scores = score_ranking(query, ranked, "beir")
    assert scores["mrr@10"] == 0.5
    assert scores["recall@5"] == 0.5
    ideal = 1 + 1 / 1.5849625  # two relevant documents at ranks 1 and 2
    assert scores["ndcg@10"] == pytest.approx((1 / 1.5849625) / ideal)


def test_qa_metrics_article_and_answer_bearing() -> None:
    query = EvalQuery("q", "Who painted it?", {"set1/a1.txt": 1}, ("Leonardo da Vinci", "yes"))
    ranked = hits(("set2/a2.txt", "nothing"), ("set1/a1.txt", "It was painted by Leonardo  da Vinci."))
    scores = score_ranking(query, ranked, "qa-tsv")
    assert scores["article_recall@5"] == 1.0 and scores["mrr@10"] == 0.5
    assert scores["answer_recall@5"] == 1.0
    yes_no = EvalQuery("q", "Is it?", {"set1/a1.txt": 1}, ("Yes",))
    assert "answer_recall@5" not in score_ranking(yes_no, ranked, "qa-tsv")


def test_qa_tsv_reader_groups_answers_and_skips_broken_rows(tmp_path: Path) -> None:
    (tmp_path / "articles" / "set1").mkdir(parents=True)
    (tmp_path / "articles" / "set1" / "a1.txt").write_text("Kangaroo text")
    header = "ArticleTitle\tQuestion\tAnswer\tDifficultyFromQuestioner\tDifficultyFromAnswerer\tArticleFile\n"
    rows = ["Kangaroo\tDo they hop?\tyes\teasy\teasy\tdata/set1/a1",
            "Kangaroo\tDo they hop?\tYes, they do.\teasy\teasy\tdata/set1/a1",
            "Kangaroo\tWhere do they live?\tNULL\thard\thard\tdata/set1/a1",
            "Kangaroo\tbroken row split",
            "across lines\tdata/set1/a1",
            # Quotes are text, not CSV quoting: the original file has unbalanced ones.
            'Kangaroo\t"Quoted" question?\t"1832\teasy\teasy\tdata/set1/a1']
    (tmp_path / "qa.tsv").write_text(header + "\n".join(rows) + "\n")
    dataset = load_qa_tsv(tmp_path / "qa.tsv")
    assert [d.doc_id for d in dataset.documents] == ["set1/a1.txt"]
    assert {q.text: q.answers for q in dataset.queries} == {
        "Do they hop?": ("Yes, they do.", "yes"), "Where do they live?": (), '"Quoted" question?': ('"1832',)}


def test_beir_reader(tmp_path: Path) -> None:
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text(json.dumps({"_id": "d1", "title": "T", "text": "body"}) + "\n")
    (tmp_path / "queries.jsonl").write_text(
        json.dumps({"_id": "q1", "text": "what"}) + "\n" + json.dumps({"_id": "q2", "text": "unjudged"}) + "\n")
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\n")
    dataset = load_beir(tmp_path)
    assert [(q.query_id, q.relevant) for q in dataset.queries] == [("q1", {"d1": 2})]
    assert dataset.documents[0].text == "body"


@pytest.mark.parametrize("name", ["paraphrase-beir", "natural-beir"])
def test_the_shipped_beir_sets_are_consistent(name: str) -> None:
    dataset = load_beir(Path(__file__).resolve().parents[3] / "bench" / "data" / name)
    ids = {d.doc_id for d in dataset.documents}
    assert len(ids) == len(dataset.documents) == 1972
    assert len(dataset.queries) == {"paraphrase-beir": 60, "natural-beir": 80}[name]
    assert len({q.query_id for q in dataset.queries}) == len(dataset.queries)
    # Every judged passage exists: a typo in qrels would silently count as a miss.
    assert all(set(q.relevant) <= ids for q in dataset.queries)
