"""Scans read by OCR (Tesseract): an image, and a PDF page with no text layer, keeping its page."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from core.errors import DocumentTooLarge, ParseError
from ingest.ocr import OcrSettings, ocr_available
from ingest.parsing import ParseLimits, parse_bytes
from tests.fixtures.documents import scanned_page, write_scanned_pdf
from tests.support.environment import require

LINES = ["The lease of Unit 4 ends on 30 June 2027.", "Rent: 2,450 GBP per month, due on the 1st."]


@pytest.fixture(autouse=True)
def tesseract() -> None:
    require(ocr_available(), "Tesseract (apt-get install tesseract-ocr) and pytesseract (the ocr extra)")


def test_an_image_is_read_as_its_text() -> None:
    parsed = parse_bytes(scanned_page(LINES), "lease-scan.png")
    assert parsed.format == "image" and [p.page for p in parsed.pages] == [1]
    assert "The lease of Unit 4 ends on 30 June 2027." in parsed.text
    assert "2,450 GBP per month" in parsed.text


def test_a_scanned_pdf_page_is_read_and_keeps_its_page_number(tmp_path: Path) -> None:
    pdf = write_scanned_pdf(tmp_path / "lease.pdf", "Greyfield lease, summary page.", LINES)
    parsed = parse_bytes(pdf.read_bytes(), "lease.pdf")
    assert [p.page for p in parsed.pages] == [1, 2]
    second = parsed.text[parsed.pages[1].start:]
    assert "ends on 30 June 2027" in second and "summary page" not in second
    off = parse_bytes(pdf.read_bytes(), "lease.pdf", ParseLimits(ocr=OcrSettings(enabled=False)))
    assert [p.page for p in off.pages] == [1]  # OCR off: the scanned page is skipped, the rest read


def test_ocr_off_corrupt_or_oversized_images_fail_with_a_reason() -> None:
    with pytest.raises(ParseError, match="OCR is off"):
        parse_bytes(scanned_page(LINES), "scan.png", ParseLimits(ocr=OcrSettings(enabled=False)))
    with pytest.raises(ParseError, match="unreadable image"):
        parse_bytes(b"\x89PNG\r\n\x1a\n not really", "broken.png")
    from PIL import Image

    frames = [Image.new("L", (200, 100), 255) for _ in range(3)]
    tiff = io.BytesIO()
    frames[0].save(tiff, format="TIFF", save_all=True, append_images=frames[1:])
    with pytest.raises(DocumentTooLarge, match="max_ocr_pages"):
        parse_bytes(tiff.getvalue(), "fax.tiff", ParseLimits(ocr=OcrSettings(max_pages=2)))
