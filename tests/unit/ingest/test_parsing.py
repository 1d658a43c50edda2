from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ParseError, UnsupportedFormat
from ingest.parsing import parse_bytes
from tests.fixtures.documents import HTML_PAGE, MARKDOWN, PDF_PAGES, write_docx, write_pdf


def test_txt() -> None:
    parsed = parse_bytes(b"Line one.\r\nLine two.\r\n", "notes.txt")
    assert (parsed.text, parsed.format, parsed.pages) == ("Line one.\nLine two.", "txt", [])


def test_markdown_keeps_structure_and_title() -> None:
    parsed = parse_bytes(MARKDOWN.encode(), "wombats.md")
    assert parsed.format == "md"
    assert parsed.title == "Wombats"
    assert "## Diet" in parsed.text


def test_html_keeps_visible_text_only() -> None:
    parsed = parse_bytes(HTML_PAGE.encode(), "platypus.html")
    assert parsed.title == "Platypus facts"
    assert "The platypus is a semi-aquatic mammal." in parsed.text
    assert "It lays eggs & hunts with electroreception." in parsed.text
    for boilerplate in ("SCRIPT_TEXT", "NAV_TEXT", "SIDEBAR_TEXT", "FOOTER_TEXT", "color: red"):
        assert boilerplate not in parsed.text


def test_pdf_keeps_page_numbers(tmp_path: Path) -> None:
    parsed = parse_bytes(write_pdf(tmp_path / "animals.pdf").read_bytes(), "animals.pdf")
    assert parsed.format == "pdf"
    assert parsed.title == "Australian animals"
    assert [p.page for p in parsed.pages] == [1, 2]
    second = parsed.pages[1].start
    assert parsed.text[second:].startswith("Koalas sleep")
    assert PDF_PAGES[0].split(".")[0] in parsed.text[:second]


def test_docx_paragraphs_and_tables(tmp_path: Path) -> None:
    parsed = parse_bytes(write_docx(tmp_path / "echidna.docx").read_bytes(), "echidna.docx")
    assert parsed.title == "Echidna notes"
    assert "spiny anteaters" in parsed.text
    assert "Lifespan | 50 years" in parsed.text


@pytest.mark.parametrize(
    ("name", "data", "error", "reason"),
    [
        ("x.png", b"\x89PNG", UnsupportedFormat, "unsupported file type '.png'"),
        ("noext", b"text", UnsupportedFormat, "unsupported file type"),
        ("bad.pdf", b"%PDF-1.4 not really", ParseError, "PDF"),
        ("bad.docx", b"plain text", ParseError, "DOCX"),
        ("empty.md", b"\n\n", ParseError, "empty"),
        ("empty.html", b"<html><script>x()</script></html>", ParseError, "no text"),
    ],
)
def test_bad_input_names_what_was_wrong(name: str, data: bytes, error: type[Exception], reason: str) -> None:
    with pytest.raises(error, match=reason) as info:
        parse_bytes(data, name)
    assert name in str(info.value)
