from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ParseError, UnsupportedFormat
from ingest.parsing import parse_bytes
from tests.fixtures.documents import (
    HTML_PAGE,
    MARKDOWN,
    PDF_PAGES,
    write_docx,
    write_pdf,
    write_pdf_with_table,
    write_rates_xlsx,
)


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
        ("x.psd", b"8BPS", UnsupportedFormat, "unsupported file type '.psd'"),
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


def test_csv_and_tsv_rows_carry_their_header() -> None:
    csv_text = b"City,Per diem,Lodging\nBoston,$79,$258\n\nDenver,\"$74\",$199\n"
    assert parse_bytes(csv_text, "rates.csv").text == ("City: Boston · Per diem: $79 · Lodging: $258\n"
                                                       "City: Denver · Per diem: $74 · Lodging: $199")
    assert parse_bytes(b"sku\tqty\nBW-3075\t58\n", "stock.tsv").text == "sku: BW-3075 · qty: 58"


def test_xlsx_sheets_become_named_blocks_of_rows_numbered_as_the_spreadsheet_shows_them(tmp_path: Path) -> None:
    parsed = parse_bytes(write_rates_xlsx(tmp_path / "rates.xlsx").read_bytes(), "rates.xlsx")
    assert parsed.format == "xlsx" and parsed.page_unit == "row"
    lines = parsed.text.split("\n")
    assert lines[:3] == ["Sheet: Domestic", "City: Austin · Per diem: $69 · Lodging: $180",
                         "City: Seattle · Per diem: $79 · Lodging: $301"]
    # The title row above the second table is a line of its own; the header is the row under it.
    assert "Rates in euros" in lines and "City: Lyon · Per diem: EUR 61 · Lodging: EUR 140" in lines
    where = {parsed.text[span.start:].split("\n", 1)[0]: span.label for span in parsed.pages}
    assert where["City: Austin · Per diem: $69 · Lodging: $180"] == "sheet Domestic, row 2"
    assert where["City: Lyon · Per diem: EUR 61 · Lodging: EUR 140"] == "sheet Foreign, row 4"
    assert [name for _, name in parsed.sections] == ["Domestic", "Foreign"]
    assert all(parsed.text.startswith(f"Sheet: {name}", start) for start, name in parsed.sections)
    with pytest.raises(ParseError, match="XLSX"):
        parse_bytes(b"PK\x03\x04 not a workbook", "broken.xlsx")


def test_xlsx_cells_read_as_the_sheet_shows_them_and_a_footnote_row_is_not_a_value(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Discounts"
    sheet.append(("Order value from", "Discount"))
    sheet.append((30000, 0.075))
    sheet["A2"].number_format = '"£"#,##0'
    sheet["B2"].number_format = "0.0%"
    sheet.append(("Discounts do not apply to consumables or service contracts.",))
    book.save(tmp_path / "discounts.xlsx")
    parsed = parse_bytes((tmp_path / "discounts.xlsx").read_bytes(), "discounts.xlsx")
    assert parsed.text.split("\n")[1:] == ["Order value from: £30,000 · Discount: 7.5%",
                                           "Discounts do not apply to consumables or service contracts."]


def test_a_csv_row_is_a_position_numbered_as_a_spreadsheet_shows_it() -> None:
    parsed = parse_bytes(b"City,Per diem\nBoston,$79\n\nDenver,\"$74\"\n", "rates.csv")
    assert parsed.page_unit == "row"
    assert [(span.page, parsed.text[span.start:].split("\n", 1)[0]) for span in parsed.pages] == [
        (2, "City: Boston · Per diem: $79"), (4, "City: Denver · Per diem: $74")]


def test_a_ruled_pdf_table_becomes_rows_with_their_header_in_place(tmp_path: Path) -> None:
    parsed = parse_bytes(write_pdf_with_table(tmp_path / "policy.pdf").read_bytes(), "policy.pdf")
    page_two = parsed.text[parsed.pages[1].start:]
    assert parsed.pages[1].page == 2
    assert page_two.split("\n") == ["Daily allowances for travel in the United States:",
                                     "City: Boston · Per diem: $79 · Lodging: $258",
                                     "City: Denver · Per diem: $74 · Lodging: $199",
                                     "City: Chicago · Per diem: $79 · Lodging: $289",
                                     "Receipts are required for lodging only."]
    # A page that draws nothing is read by pypdf alone, as before.
    assert parsed.text[:parsed.pages[1].start].startswith("Travel policy of Halvorsen Shipping.")


MAIL = (b"From: Tidewater Outfitters <orders@tidewater.example>\nTo: Marcus Bell <marcus@mailbox.example>\n"
        b"Date: Mon, 15 Apr 2024 13:27:02 -0400\nSubject: Your order #TW-20931 has shipped!\n"
        b"MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=XX\n\n"
        b"--XX\nContent-Type: text/html; charset=utf-8\n\n<p>Carrier: <b>ParcelPoint</b> Ground</p>\n"
        b"--XX\nContent-Type: text/plain; charset=utf-8\n\nCarrier: ParcelPoint Ground\nTracking: PP4471\n--XX--\n")


def test_an_email_is_its_header_fields_then_its_plain_text() -> None:
    parsed = parse_bytes(MAIL, "order.eml")
    assert parsed.title == "Your order #TW-20931 has shipped!"
    assert parsed.text.startswith("From: Tidewater Outfitters <orders@tidewater.example>\nTo: Marcus Bell")
    assert "Subject: Your order #TW-20931 has shipped!\n\nCarrier: ParcelPoint Ground\nTracking: PP4471" in parsed.text
    assert "<p>" not in parsed.text


def test_an_mbox_holds_every_message_and_an_html_only_one_is_read_as_text() -> None:
    html_only = (b"From: a@example.com\nSubject: Refund processed\nContent-Type: text/html\n\n"
                 b"<html><body><p>Refund amount: CAD 642.18</p><script>x()</script></body></html>\n")
    mbox = (b"From a@example.com Mon Apr 15 13:27:02 2024\n" + MAIL
            + b"\nFrom b@example.com Tue Apr 16 10:00:00 2024\n" + html_only)
    text = parse_bytes(mbox, "inbox.mbox").text
    assert "Carrier: ParcelPoint Ground" in text and "Refund amount: CAD 642.18" in text
    assert "Subject: Refund processed" in text and "x()" not in text


def test_slides_are_pages_with_their_notes_and_tables(tmp_path: Path) -> None:
    from tests.fixtures.documents import write_pptx

    parsed = parse_bytes(write_pptx(tmp_path / "review.pptx").read_bytes(), "review.pptx")
    assert parsed.format == "pptx" and parsed.page_unit == "slide" and parsed.title == "Harbor Authority review"
    assert [p.page for p in parsed.pages] == [1, 2, 3]
    slides = [parsed.text[p.start:end] for p, end in zip(parsed.pages, [*(q.start - 2 for q in parsed.pages[1:]),
                                                                      len(parsed.text)], strict=True)]
    assert slides[1] == ("Dredging\nThe north channel was dredged to 14 metres in March.\n"
                         "Notes: Mention the contractor, Tidewater Marine.")
    assert slides[2] == "Berth fees\nBerth: Berth 7 · Daily fee: EUR 1,150\nBerth: Berth 9 · Daily fee: EUR 980"
    with pytest.raises(ParseError, match="PPTX"):
        parse_bytes(b"PK\x03\x04 not a deck", "broken.pptx")


def test_an_epub_is_its_chapters_in_reading_order(tmp_path: Path) -> None:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("harbor-1")
    book.set_title("The Harbor Handbook")
    book.set_language("en")
    chapters = []
    for i, body in enumerate(["<h1>Arrival</h1><p>Pilots board at the outer buoy.</p>",
                              "<h1>Fees</h1><p>Berth 7 costs EUR 1,150 a day.</p><script>x()</script>"], start=1):
        chapter = epub.EpubHtml(title=f"Chapter {i}", file_name=f"c{i}.xhtml", lang="en")
        chapter.content = f"<html><body>{body}</body></html>"
        book.add_item(chapter)
        chapters.append(chapter)
    book.spine = chapters
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    epub.write_epub(str(tmp_path / "handbook.epub"), book)
    parsed = parse_bytes((tmp_path / "handbook.epub").read_bytes(), "handbook.epub")
    assert parsed.title == "The Harbor Handbook"
    assert parsed.text.index("Pilots board at the outer buoy.") < parsed.text.index("Berth 7 costs EUR 1,150 a day.")
    assert "x()" not in parsed.text


def test_an_odt_keeps_paragraphs_and_reads_its_table_as_rows(tmp_path: Path) -> None:
    from odf.opendocument import OpenDocumentText
    from odf.table import Table, TableCell, TableRow
    from odf.text import H, P

    document = OpenDocumentText()
    document.text.addElement(H(outlinelevel=1, text="Berth fees"))
    document.text.addElement(P(text="Fees are reviewed every January."))
    table = Table()
    for row in (("Berth", "Daily fee", "Max draft"), ("Berth 7", "EUR 1,150", "12 m")):
        table_row = TableRow()
        for value in row:
            cell = TableCell()
            cell.addElement(P(text=value))
            table_row.addElement(cell)
        table.addElement(table_row)
    document.text.addElement(table)
    document.save(str(tmp_path / "fees.odt"))
    text = parse_bytes((tmp_path / "fees.odt").read_bytes(), "fees.odt").text
    assert text == ("Berth fees\n\nFees are reviewed every January.\n\n"
                    "Berth: Berth 7 · Daily fee: EUR 1,150 · Max draft: 12 m")


def test_rtf_is_read_as_text_and_other_bytes_are_refused() -> None:
    rtf = rb"{\rtf1\ansi{\fonttbl\f0\fswiss Helvetica;}\f0\pard The north channel was dredged to {\b 14 metres}.\par}"
    assert parse_bytes(rtf, "memo.rtf").text == "The north channel was dredged to 14 metres."
    with pytest.raises(ParseError, match="not an RTF"):
        parse_bytes(b"plain words", "memo.rtf")


def test_an_xhtml_file_with_an_xml_declaration_is_read() -> None:
    xhtml = (b"<?xml version='1.0' encoding='utf-8'?>\n"
             b"<html xmlns='http://www.w3.org/1999/xhtml'><body><p>Hello there.</p></body></html>")
    assert parse_bytes(xhtml, "page.html").text == "Hello there."


def test_an_emails_readable_attachments_come_back_to_be_documents_of_their_own() -> None:
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"], message["Subject"] = "harbor@example.com", "Fees for 2025"
    message.set_content("The new fees are attached.")
    message.add_attachment(b"Berth 9 costs EUR 980 a day.", maintype="text", subtype="plain", filename="fees.txt")
    message.add_attachment(b"8BPS\x00\x01", maintype="application", subtype="octet-stream", filename="logo.psd")
    parsed = parse_bytes(message.as_bytes(), "fees.eml")
    assert parsed.attachments == [("fees.txt", b"Berth 9 costs EUR 980 a day.")]  # the .psd: named only
    assert "Attachments: fees.txt, logo.psd" in parsed.text and "EUR 980" not in parsed.text


def test_mask_pii_masks_the_parsed_text_and_keeps_each_page_at_its_text(tmp_path: Path) -> None:
    from core.settings import Settings
    from ingest.parsing import ParseLimits

    pdf = write_pdf(tmp_path / "contacts.pdf", ["Write to ana.silva@example.org or call +44 20 7946 0958.",
                                                "Pay to DE89 3704 0044 0532 0130 00 by 2024-01-15."]).read_bytes()
    plain = parse_bytes(pdf, "contacts.pdf")
    assert "ana.silva@example.org" in plain.text and "DE89 3704" in plain.text
    limits = ParseLimits.from_settings(Settings(ingest={"mask_pii": True}).ingest)
    assert ParseLimits.from_json(limits.to_json()) == limits  # it reaches the parsing sandbox
    masked = parse_bytes(pdf, "contacts.pdf", limits)
    assert "[email]" in masked.text and "[phone]" in masked.text and "[iban]" in masked.text
    assert "example.org" not in masked.text and "2024-01-15" in masked.text
    assert [masked.text[page.start:page.start + 7] for page in masked.pages] == ["Write t", "Pay to "]
