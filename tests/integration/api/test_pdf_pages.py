"""Page numbers of a PDF, as a user reads them: a short three-page PDF fits in one chunk, and a
sentence from its second page is cited as p. 2 (not the chunk's first page) on `/ask` and in the
references an OpenAI client sees; the document's detail says it has 3 pages. A scanned page (an
image, no text layer) is read by OCR and its sentence cited with its page too; a slide's sentence
is cited as "slide N"; a row of a PDF table by its page, of a workbook as "sheet S, row R", of a CSV
file as "row R"."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from bootstrap.components import Components
from core.settings import Settings
from ingest.ocr import ocr_available
from ingest.sources import iter_sources
from tests.fixtures.documents import (
    write_pdf,
    write_pdf_with_table,
    write_pptx,
    write_rates_xlsx,
    write_scanned_pdf,
)
from tests.support.api import make_settings
from tests.support.environment import require
from tests.support.services import free_port

PAGES = ["The Harbor Authority of Tollvik was founded in 1921 and manages the northern docks.",
         "The lighthouse keeper's cottage at Tollvik was rebuilt in 1987 after a winter storm.",
         "Ferry tickets for Tollvik are sold at the kiosk beside the main gate."]
QUESTION = "When was the lighthouse keeper's cottage at Tollvik rebuilt?"
SCANNED = ["The lease of Greyfield Unit 4 ends on 30 June 2027.", "Rent is 2,450 GBP per month."]


@pytest.fixture(scope="module", autouse=True)
def tesseract() -> None:
    require(ocr_available(), "Tesseract (apt-get install tesseract-ocr) and pytesseract (the ocr extra)")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, redis_url: str, key_prefix: str) -> Settings:
    dead_llm = f"http://127.0.0.1:{free_port()}/v1"  # never asked: answers are extractive
    return make_settings(tmp_path_factory.mktemp("pdf-pages"), redis_url, key_prefix + "pdfpages:", dead_llm,
                         answer={"mode": "extractive"})


@pytest.fixture(scope="module")
def client(settings: Settings, embedder: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("pdfs")
    write_pdf(folder / "harbor.pdf", PAGES)
    write_scanned_pdf(folder / "lease.pdf", "Greyfield lease: the summary page.", SCANNED)
    write_pptx(folder / "review.pptx")
    write_pdf_with_table(folder / "travel.pdf")
    write_rates_xlsx(folder / "rates.xlsx")
    (folder / "vendors.csv").write_text("Vendor,Contact,Phone\nNorthwind Freight,Ida Lund,555-0142\n"
                                        "Baltic Tugs,Per Olsen,555-0199\n")
    parts = Components(settings)
    parts.__dict__["embedder"] = embedder
    report = parts.pipeline.ingest(list(iter_sources([folder])), "docs")
    assert report.counts()["added"] == 6, report.to_dict()
    with TestClient(create_app(settings, parts)) as test_client:
        yield test_client
    parts.close()


def test_a_short_pdf_is_one_chunk_with_three_pages(client: TestClient) -> None:
    detail = client.get("/documents/harbor.pdf", params={"collection": "docs"})
    assert detail.status_code == 200, detail.text
    assert detail.json()["chunks"] == 1 and detail.json()["pages"] == 3, detail.json()


def test_a_sentence_from_page_two_is_cited_as_page_two(client: TestClient) -> None:
    body = client.post("/ask", json={"question": QUESTION, "collection": "docs"}).json()
    assert not body["refused"], body
    first = body["citations"][0]
    assert "1987" in first["quote"]["text"] and first["page"] == 2 and first["location"] == "p. 2", first
    completion = client.post("/v1/chat/completions", json={
        "model": "docs", "messages": [{"role": "user", "content": QUESTION}]}).json()
    content = completion["choices"][0]["message"]["content"]
    assert "p. 2" in content.split("Sources:", 1)[1] and "p. 1" not in content, content


def test_a_sentence_read_from_a_scanned_page_is_answered_with_its_page(client: TestClient) -> None:
    body = client.post("/ask", json={"question": "When does the lease of Greyfield Unit 4 end?",
                                     "collection": "docs"}).json()
    assert not body["refused"], body
    first = body["citations"][0]
    assert first["doc_id"] == "lease.pdf" and "30 June 2027" in first["quote"]["text"] and first["page"] == 2, first


def test_a_sentence_on_a_slide_is_cited_by_its_slide(client: TestClient) -> None:
    question = "What is the daily fee for Berth 7?"
    body = client.post("/ask", json={"question": question, "collection": "docs"}).json()
    assert not body["refused"], body
    first = body["citations"][0]
    assert first["doc_id"] == "review.pptx" and "EUR 1,150" in first["quote"]["text"], first
    assert first["page"] == 3 and first["location"] == "slide 3", first
    completion = client.post("/v1/chat/completions", json={
        "model": "docs", "messages": [{"role": "user", "content": question}]}).json()
    assert "slide 3" in completion["choices"][0]["message"]["content"].split("Sources:", 1)[1]


@pytest.mark.parametrize(("question", "doc_id", "value", "location"), [
    ("What is the lodging rate in Chicago?", "travel.pdf", "$289", "p. 2"),
    ("How much is lodging in Lyon?", "rates.xlsx", "EUR 140", "sheet Foreign, row 4"),
    ("What is the phone number of Baltic Tugs?", "vendors.csv", "555-0199", "row 3"),
])
def test_a_table_row_is_cited_by_its_place(client: TestClient, question: str, doc_id: str, value: str,
                                           location: str) -> None:
    body = client.post("/ask", json={"question": question, "collection": "docs"}).json()
    assert not body["refused"], body
    first = body["citations"][0]
    assert first["doc_id"] == doc_id and value in first["quote"]["text"], first
    assert first["location"] == location, first


def test_a_sheets_chunks_carry_its_name_in_their_title(client: TestClient) -> None:
    chunks = client.get("/documents/rates.xlsx", params={"collection": "docs"}).json()
    assert chunks["chunks"] >= 2, chunks
    body = client.post("/ask", json={"question": "Lodging in Porto", "collection": "docs"}).json()
    first = body["citations"][0]
    assert first["doc_id"] == "rates.xlsx" and first["title"].endswith("— Foreign"), first
