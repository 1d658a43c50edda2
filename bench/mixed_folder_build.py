"""Builds the mixed folder of bench/mixed_folder.py from its text spec, with the libraries that write
each format (fpdf2, PIL, openpyxl, python-docx, python-pptx, ``email``/``mailbox``, ebooklib).

    build_folder(load_files(DATA / "files.json"), Path("/tmp/mixed"))

The spec (``bench/data/mixed-folder/files.json``) lists each file's path, its kind and its content;
nothing binary is committed. Scans are pages of pixels only (``tests.fixtures.documents.scanned_page``),
so their text can only be read by OCR.
"""

from __future__ import annotations

import csv
import html
import importlib
import io
import json
import mailbox
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "mixed-folder"
Spec = dict[str, Any]
# A scan the size of an A4 page at 200 dpi: 1700 x 2200 pixels, 40 px type (scanned_page's).
PAGE_PX = (1700, 2200)
LINE_PX = 70


def scanned_page(lines: list[str], width: int, height: int) -> bytes:
    """``tests.fixtures.documents.scanned_page``: the scans the OCR tests read. Imported by name so
    that mypy, checking this file, does not check the test fixtures too."""
    fixtures = importlib.import_module("tests.fixtures.documents")
    page: bytes = fixtures.scanned_page(lines, width, height)
    return page


def load_files(path: Path = DATA / "files.json") -> list[Spec]:
    files: list[Spec] = json.loads(path.read_text())["files"]
    return files


def build_folder(files: list[Spec], root: Path) -> list[Path]:
    """Writes every file of the spec under ``root`` (folders made as needed); returns their paths."""
    paths = []
    for spec in files:
        path = root / spec["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        writer(spec)(spec, path)
        paths.append(path)
    return paths


def writer(spec: Spec) -> Callable[[Spec, Path], None]:
    """The function that writes this file: by kind for scans (a PDF or an image), else by extension."""
    suffix = Path(spec["path"]).suffix.lower()
    if spec["kind"] == "scan":
        return write_scanned_pdf if suffix == ".pdf" else write_image
    writers: dict[str, Callable[[Spec, Path], None]] = {
        ".pdf": write_text_pdf, ".xlsx": write_xlsx, ".csv": write_csv, ".docx": write_docx,
        ".pptx": write_pptx, ".mbox": write_mbox, ".eml": write_eml, ".epub": write_epub,
    }
    return writers[suffix]


def write_scanned_pdf(spec: Spec, path: Path) -> None:
    """One full-page image per page and no text layer, as a scanner writes a signed contract."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    width_mm = 190
    for lines in spec["pages"]:
        pdf.add_page()
        page = scanned_page(lines, *PAGE_PX)
        pdf.image(io.BytesIO(page), x=10, y=10, w=width_mm)
    pdf.output(str(path))


def write_image(spec: Spec, path: Path) -> None:
    height = 2 * 40 + LINE_PX * len(spec["lines"])  # a receipt is as tall as its lines
    path.write_bytes(scanned_page(spec["lines"], PAGE_PX[0], height))


def write_text_pdf(spec: Spec, path: Path) -> None:
    """A text PDF: headings, paragraphs and ruled tables (fpdf2's table API), one list of blocks a page."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    pdf = FPDF(format="A4")
    pdf.set_title(spec["title"])
    for blocks in spec["pages"]:
        pdf.add_page()
        for block in blocks:
            if "heading" in block:
                pdf.set_font("Helvetica", style="B", size=15)
                pdf.multi_cell(0, 9, block["heading"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            elif "text" in block:
                pdf.set_font("Helvetica", size=11)
                pdf.multi_cell(0, 6, block["text"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            else:
                pdf.set_font("Helvetica", size=10)
                with pdf.table() as table:  # borders on every cell, the first row a bold header
                    for values in block["table"]:
                        row = table.row()
                        for value in values:
                            row.cell(value)
            pdf.ln(4)
    pdf.output(str(path))


def write_xlsx(spec: Spec, path: Path) -> None:
    """Sheets cell by cell, so that an empty row stays a row (the row numbers are the spreadsheet's)."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for sheet_spec in spec["sheets"]:
        sheet = book.create_sheet(sheet_spec["name"])
        percent = sheet_spec.get("percent_column")
        for r, values in enumerate(sheet_spec["rows"], 1):
            for c, value in enumerate(values, 1):
                cell = sheet.cell(row=r, column=c, value=value)
                if c == percent and isinstance(value, int | float):
                    cell.number_format = "0.0%"  # stored as 0.075, shown as 7.5%, as finance teams do
    book.save(path)


def write_csv(spec: Spec, path: Path) -> None:
    path.write_bytes(csv_bytes(spec["rows"]))


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def write_docx(spec: Spec, path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = spec["title"]
    for block in spec["blocks"]:
        if "heading" in block:
            document.add_heading(block["heading"], level=1)
        elif "text" in block:
            document.add_paragraph(block["text"])
        else:
            rows = block["table"]
            table = document.add_table(rows=len(rows), cols=len(rows[0]), style="Table Grid")
            for r, values in enumerate(rows):
                for c, value in enumerate(values):
                    table.cell(r, c).text = value
    document.save(str(path))


def write_pptx(spec: Spec, path: Path) -> None:
    """Title, bullets or a table per slide, and speaker notes where the spec has them."""
    from pptx import Presentation

    deck = Presentation()
    for number, slide_spec in enumerate(spec["slides"]):
        slide = add_slide(deck, slide_spec, first=number == 0)
        if "notes" in slide_spec:
            slide.notes_slide.notes_text_frame.text = slide_spec["notes"]
    deck.save(str(path))


def add_slide(deck: Any, spec: Spec, first: bool) -> Any:
    from pptx.util import Inches

    # The default template's layouts: 0 title slide, 1 title and content, 5 title only.
    layout = 0 if first else 1 if "bullets" in spec else 5
    slide = deck.slides.add_slide(deck.slide_layouts[layout])
    slide.shapes.title.text = spec["title"]
    if "subtitle" in spec:
        slide.placeholders[1].text = spec["subtitle"]
    if "bullets" in spec:
        frame = slide.placeholders[1].text_frame
        frame.text = spec["bullets"][0]
        for bullet in spec["bullets"][1:]:
            frame.add_paragraph().text = bullet
    if "table" in spec:
        rows = spec["table"]
        shape = slide.shapes.add_table(len(rows), len(rows[0]), Inches(0.7), Inches(1.8), Inches(8.6), Inches(4))
        for r, values in enumerate(rows):
            for c, value in enumerate(values):
                shape.table.cell(r, c).text = value
    return slide


def message_of(spec: Spec) -> EmailMessage:
    message = EmailMessage()
    for header in ("from", "to", "date", "subject"):
        message[header.capitalize()] = spec[header]
    message["Message-ID"] = make_msgid(domain="brightwater.example")
    message.set_content(spec["body"])
    for attachment in spec.get("attachments", []):
        message.add_attachment(csv_bytes(attachment["rows"]), maintype="text", subtype="csv",
                               filename=attachment["name"])
    return message


def write_mbox(spec: Spec, path: Path) -> None:
    box = mailbox.mbox(str(path))
    try:
        for message in spec["messages"]:
            box.add(message_of(message))
        box.flush()
    finally:
        box.close()


def write_eml(spec: Spec, path: Path) -> None:
    path.write_bytes(message_of(spec["message"]).as_bytes())


def write_epub(spec: Spec, path: Path) -> None:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("brightwater-handbook-2025")
    book.set_title(spec["title"])
    book.set_language("en")
    book.add_author(spec["author"])
    chapters = []
    for number, chapter in enumerate(spec["chapters"], 1):
        page = epub.EpubHtml(title=chapter["title"], file_name=f"chapter-{number:02d}.xhtml", lang="en")
        page.content = f"<h1>{html.escape(chapter['title'])}</h1>" + "".join(
            f"<p>{html.escape(text)}</p>" for text in chapter["paragraphs"])
        book.add_item(page)
        chapters.append(page)
    book.toc = chapters
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *chapters]
    epub.write_epub(str(path), book)
