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
    assert "Lifespan: 50 years" in parsed.text  # a two-column table: labels and values


def test_a_docx_table_keeps_its_place_and_each_row_carries_the_header(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("Per-diem rates for staff travel.")
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate([("City", "Per diem", "Lodging"), ("Boston", "$79", "$258"), ("Denver", "$74", "$199")]):
        for c, text in enumerate(row):
            table.rows[r].cells[c].text = text
    document.add_paragraph("Rates are reviewed every January.")
    document.save(str(tmp_path / "rates.docx"))
    text = parse_bytes((tmp_path / "rates.docx").read_bytes(), "rates.docx").text
    rows = "City: Boston · Per diem: $79 · Lodging: $258\nCity: Denver · Per diem: $74 · Lodging: $199"
    assert text.split("\n\n") == ["Per-diem rates for staff travel.", rows, "Rates are reviewed every January."]


def test_html_and_markdown_tables_become_rows_with_their_header() -> None:
    html = (b"<html><body><p>Rates below.</p><table><caption>Per diem 2024</caption>"
            b"<tr><th>City</th><th>Per diem</th></tr><tr><td>Boston</td><td>$79</td></tr>"
            b"<tr><td>Denver</td><td>$74</td></tr></table><p>After the table.</p></body></html>")
    lines = parse_bytes(html, "rates.html").text.splitlines()
    assert "Per diem 2024" in lines and "City: Boston · Per diem: $79" in lines
    assert "City: Denver · Per diem: $74" in lines
    assert lines.index("City: Boston · Per diem: $79") < lines.index("After the table.")
    markdown = (b"# Rates\n\n| City | Per diem | Lodging |\n|:--|--:|--:|\n"
                b"| Boston | $79 | $258 |\n| Denver | | $199 |\n")
    text = parse_bytes(markdown, "rates.md").text
    assert "City: Boston · Per diem: $79 · Lodging: $258\nCity: Denver · Lodging: $199" in text
    assert "|" not in text


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
