"""Ruled PDF tables (pdfplumber): only pages that draw are analysed, and the analysis has a budget."""

from __future__ import annotations

from pathlib import Path

from pypdf import PdfReader

from ingest.pdf_tables import PdfTables, may_hold_table
from tests.fixtures.documents import write_pdf_with_table


def test_only_a_page_that_draws_may_hold_a_table(tmp_path: Path) -> None:
    reader = PdfReader(write_pdf_with_table(tmp_path / "policy.pdf"))
    assert [may_hold_table(page) for page in reader.pages] == [False, True]


def test_past_its_time_budget_a_document_keeps_pypdfs_text(tmp_path: Path) -> None:
    data = write_pdf_with_table(tmp_path / "policy.pdf").read_bytes()
    tables = PdfTables(data, budget_s=0.0)
    first = tables.page_text(1)
    assert first is not None and "City: Boston · Per diem: $79" in first  # the page that spent the budget
    assert tables.page_text(1) is None  # every later page: no analysis
    tables.close()
