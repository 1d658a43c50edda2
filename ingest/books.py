"""Books and office text: EPUB (ebooklib: its chapters in reading order, each through the HTML
parser), ODT (odfpy: paragraphs and headings in order, tables as rows that carry their header) and
RTF (striprtf). Each returns the document's text and title; ``ingest.parsing`` calls them.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from core.errors import ParseError
from ingest.tables import rows_with_header
from ingest.text import decode_bytes


def parse_epub(data: bytes, name: str, html_text: Callable[[str], str]) -> tuple[str, str]:
    import ebooklib
    from ebooklib import epub

    try:
        book = epub.read_epub(io.BytesIO(data), options={"ignore_ncx": True})
    except Exception as exc:  # ebooklib raises zipfile, KeyError and its own errors alike
        raise ParseError(f"{name}: corrupt or unreadable EPUB ({type(exc).__name__}: {exc})") from exc
    chapters = []
    for item_id, _linear in book.spine:
        item = book.get_item_with_id(item_id)
        if item is not None and item.get_type() == ebooklib.ITEM_DOCUMENT:
            chapters.append(html_text(item.get_content().decode("utf-8", errors="replace")))
    titles = book.get_metadata("DC", "title")
    return "\n\n".join(c for c in chapters if c.strip()), str(titles[0][0]) if titles else ""


def parse_odt(data: bytes, name: str) -> tuple[str, str]:
    from odf import opendocument, teletype
    from odf.namespaces import TABLENS, TEXTNS

    try:
        document = opendocument.load(io.BytesIO(data))
    except Exception as exc:  # odfpy raises zipfile, KeyError and xml errors alike
        raise ParseError(f"{name}: corrupt or unreadable ODT ({type(exc).__name__}: {exc})") from exc
    blocks: list[str] = []

    def walk(element: Any) -> None:
        for child in element.childNodes:
            qname = getattr(child, "qname", None)
            if qname in ((TEXTNS, "p"), (TEXTNS, "h")):
                blocks.append(teletype.extractText(child))
            elif qname == (TABLENS, "table"):
                rows = [[teletype.extractText(cell) for cell in row.childNodes if getattr(cell, "qname", None)
                         in ((TABLENS, "table-cell"), (TABLENS, "covered-table-cell"))]
                        for row in child.getElementsByType(_odf_row())]
                blocks.append("\n".join(rows_with_header(rows)))
            elif getattr(child, "childNodes", None):
                walk(child)

    walk(document.text)
    title = ""
    for meta in document.meta.childNodes:
        if getattr(meta, "qname", None) == ("http://purl.org/dc/elements/1.1/", "title"):
            title = teletype.extractText(meta)
    return "\n\n".join(b for b in blocks if b.strip()), title


def _odf_row() -> Any:
    from odf.table import TableRow

    return TableRow


def parse_rtf(data: bytes, name: str) -> tuple[str, str]:
    from striprtf.striprtf import rtf_to_text

    text = decode_bytes(data, name)
    if not text.lstrip().startswith("{\\rtf"):
        raise ParseError(f"{name}: not an RTF document (it does not start with {{\\rtf)")
    try:
        return rtf_to_text(text, errors="ignore"), ""
    except (ValueError, IndexError) as exc:
        raise ParseError(f"{name}: unreadable RTF ({exc})") from exc
