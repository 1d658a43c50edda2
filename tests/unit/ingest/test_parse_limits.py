"""Parsing is bounded: size limits fail a document alone with the setting to raise, and the
sandbox kills a parse past its deadline or memory budget and goes on with the next document."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import DocumentTooLarge, ParseError
from ingest.parsing import ParseLimits, parse_bytes
from ingest.sandbox import ParseSandbox
from tests.fixtures.documents import write_deep_html, write_pdf, write_zip_bomb_docx


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ParseSandbox]:
    box = ParseSandbox(ParseLimits(max_chars=100_000), timeout_s=20, memory_bytes=512 * 2**20)
    yield box
    box.close()


@pytest.mark.parametrize("name", ["bomb.docx", "bomb.xlsx", "bomb.pptx", "bomb.epub", "bomb.odt"])
def test_a_zip_bomb_fails_from_its_directory_before_it_expands(tmp_path: Path, name: str) -> None:
    bomb = write_zip_bomb_docx(tmp_path / name, expanded_mb=300).read_bytes()  # every zip-based format
    started = time.perf_counter()
    expected = r"expands to 314,572,8\d\d bytes, over the limit of 268,435,456 \(ingest.max_unzipped_bytes\)"
    with pytest.raises(DocumentTooLarge, match=expected):
        parse_bytes(bomb, name, ParseLimits(max_unzipped_bytes=256 * 2**20))
    assert time.perf_counter() - started < 1.0


def test_deep_html_parses_in_linear_time(tmp_path: Path) -> None:
    page = write_deep_html(tmp_path / "deep.html", depth=100_000).read_bytes()
    started = time.perf_counter()
    with pytest.raises(ParseError, match="no text found"):  # libxml2 drops what lies past 256 levels
        parse_bytes(page, "deep.html")
    assert time.perf_counter() - started < 2.0
    shallow = parse_bytes(b"<html><body>" + b"<div>" * 200 + b"kept" + b"</div>" * 200 + b"</body></html>", "s.html")
    assert shallow.text == "kept"


def test_pdf_pages_and_text_have_limits(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "a.pdf", ["page one text " * 20, "page two text " * 20, "three"]).read_bytes()
    with pytest.raises(DocumentTooLarge, match=r"3 pages, over the limit of 2 \(ingest.max_pdf_pages\)"):
        parse_bytes(pdf, "a.pdf", ParseLimits(max_pdf_pages=2))
    with pytest.raises(DocumentTooLarge, match=r"over 300 characters of text \(ingest.max_document_chars\)"):
        parse_bytes(pdf, "a.pdf", ParseLimits(max_chars=300))
    assert parse_bytes(pdf, "a.pdf").pages[1].page == 2


def test_the_sandbox_parses_and_reports_errors_of_its_child(sandbox: ParseSandbox) -> None:
    assert sandbox.parse(b"Plain words.", "a.txt").text == "Plain words."
    with pytest.raises(DocumentTooLarge, match=r"ingest\.max_document_chars"):
        sandbox.parse(b"word " * 30_000, "long.txt")
    with pytest.raises(ParseError, match=r"blank\.txt: file is empty"):
        sandbox.parse(b"", "blank.txt")


def test_a_parse_past_its_memory_budget_is_killed_and_the_next_one_runs(sandbox: ParseSandbox) -> None:
    greedy = ParseSandbox(ParseLimits(max_chars=10**10), timeout_s=20, memory_bytes=300 * 2**20)
    try:
        with pytest.raises(DocumentTooLarge, match=r"300 MiB memory budget \(ingest.parse_memory_bytes\)"):
            greedy.parse(b"word " * (50 * 2**20), "huge.txt")
        assert greedy.parse(b"Still here.", "next.txt").text == "Still here."
    finally:
        greedy.close()


def test_a_parse_past_its_deadline_is_killed_and_the_next_one_runs(tmp_path: Path) -> None:
    slow = ParseSandbox(ParseLimits(), timeout_s=0.02, memory_bytes=512 * 2**20)
    pdf = write_pdf(tmp_path / "long.pdf", ["A sentence of the long report. " * 40] * 300).read_bytes()
    try:
        slow.timeout_s = 60  # the child's start is not the parse being timed
        slow.parse(b"Warm up.", "warm.txt")
        slow.timeout_s = 0.02
        started = time.perf_counter()
        with pytest.raises(DocumentTooLarge, match=r"longer than 0.02 s \(ingest.parse_timeout_s\)"):
            slow.parse(pdf, "long.pdf")
        assert time.perf_counter() - started < 5
        slow.timeout_s = 60
        assert slow.parse(b"Next one.", "next.txt").text == "Next one."
    finally:
        slow.close()
