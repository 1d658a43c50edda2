from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import InvalidRequest
from core.types import Chunk, ScoredChunk
from retrieval.evaluation import (
    EvalDataset,
    EvalDocument,
    EvalQuery,
    limit_queries,
    load_beir,
    load_qa_tsv,
    read_qrels,
    score_ranking,
)


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


SHIPPED = {"paraphrase-beir": (1972, 60), "natural-beir": (1972, 80), "manpages-beir": (1869, 75),
           "debian-entities-beir": (3355, 70), "licenses-beir": (767, 62)}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_the_shipped_beir_sets_are_consistent(name: str) -> None:
    dataset = load_beir(Path(__file__).resolve().parents[3] / "bench" / "data" / name)
    ids = {d.doc_id for d in dataset.documents}
    assert len(ids) == len(dataset.documents) == SHIPPED[name][0]
    assert len(dataset.queries) == SHIPPED[name][1]
    assert len({q.query_id for q in dataset.queries}) == len(dataset.queries)
    # Every judged passage exists: a typo in qrels would silently count as a miss.
    assert all(set(q.relevant) <= ids for q in dataset.queries)


def test_qrels_with_or_without_a_header_graded_or_binary_or_trec(tmp_path: Path) -> None:
    path = tmp_path / "test.tsv"
    forms = {
        "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t0\nq2\td3\t1\n": {"q1": {"d1": 2}, "q2": {"d3": 1}},
        "q1\td1\t2\nq1\td2\t0\nq2\td3\t1\n": {"q1": {"d1": 2}, "q2": {"d3": 1}},
        "q1 0 d1 1\nq2 0 d3 1\n": {"q1": {"d1": 1}, "q2": {"d3": 1}},
    }
    for text, expected in forms.items():
        path.write_text(text)
        assert read_qrels(path) == expected


def test_bad_qrels_and_corpus_lines_are_named(tmp_path: Path) -> None:
    path = tmp_path / "test.tsv"
    path.write_text("q1\td1\t1\nq2\td2\tmaybe\n")
    with pytest.raises(InvalidRequest, match=r"test.tsv, line 2: score 'maybe'"):
        read_qrels(path)
    path.write_text("q1\td1\n")
    with pytest.raises(InvalidRequest, match="line 1: expected query-id, corpus-id and score"):
        read_qrels(path)
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "dev.tsv").write_text("q1\td1\t1\n")
    (tmp_path / "corpus.jsonl").write_text('{"_id": "d1", "text": "x"}\n{"text": "no id"}\n')
    (tmp_path / "queries.jsonl").write_text('{"_id": "q1", "text": "x"}\n')
    with pytest.raises(InvalidRequest, match=r"missing qrels/test.tsv \(splits here: dev\)"):
        load_beir(tmp_path)
    with pytest.raises(InvalidRequest, match=r"corpus.jsonl, line 2: a record needs an \"_id\""):
        load_beir(tmp_path, "dev")


def test_a_limited_qa_set_ingests_only_the_articles_its_queries_ask_about() -> None:
    docs = [EvalDocument(f"a{i}.txt", f"A{i}") for i in range(3)]
    queries = [EvalQuery(f"q{i}", "?", {f"a{i // 2}.txt": 1}) for i in range(6)]
    limited = limit_queries(EvalDataset("qa", "qa-tsv", docs, queries), 3)
    assert [q.query_id for q in limited.queries] == ["q0", "q1", "q2"]
    assert [d.doc_id for d in limited.documents] == ["a0.txt", "a1.txt"]
    beir = limit_queries(EvalDataset("b", "beir", docs, queries), 3)
    assert len(beir.documents) == 3  # a BEIR corpus stays whole: its distractors are the task
