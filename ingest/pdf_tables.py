"""Ruled tables in PDF pages, read as rows that carry their header (pdfplumber finds them).

pypdf reads a table as a run of cells ("Boston 79 258 Chicago 74 289"), so no value keeps its column.
A page whose content stream draws rectangles or lines may hold a ruled table: pdfplumber
(pdfminer's layout analysis) finds its cells, and the page is read again as its text above, between
and below the tables, each table as its rows with headers (``ingest.tables.row_with_header``). Pages
that draw nothing, the bulk of text PDFs, are never analysed: it costs tens of milliseconds a page.
"""

from __future__ import annotations

import io
import re
import time
from typing import Any

import structlog

from ingest.tables import rows_with_header

log = structlog.get_logger(__name__)

# Path-construction operators: "re" (a rectangle) and "l" (a line segment), each after its operands.
_DRAWS = re.compile(rb"[\d.]\s+(?:re|l)\s")
_MIN_ROWS = 2  # a header and one row: anything less is a box around text, not a table


def may_hold_table(page: Any) -> bool:
    """Whether a pypdf page draws rectangles or lines (a ruled table needs them); cheap, no layout."""
    try:
        contents = page.get_contents()
        data = contents.get_data() if contents is not None else b""
    except (ValueError, KeyError, TypeError, OSError):
        return False
    return bool(_DRAWS.search(data))


class PdfTables:
    """Opens the PDF in pdfplumber once, on the first page that needs it. Table analysis has a time
    budget per document (``budget_s``): past it, the remaining pages keep pypdf's text, so a long
    PDF of ruled pages still parses within the sandbox's deadline (``ingest.parse_timeout_s``)."""

    def __init__(self, data: bytes, budget_s: float = 8.0) -> None:
        self._data = data
        self._pdf: Any = None
        self._budget_s = budget_s
        self._spent_s = 0.0

    def page_text(self, index: int) -> str | None:
        """Page ``index`` (0-based) read with its tables as rows; None when it holds no table, or
        when pdfminer cannot lay it out (pypdf's text of it stands)."""
        from pdfminer.pdfexceptions import PDFException
        from pdfminer.psexceptions import PSException

        if self._spent_s > self._budget_s:
            return None
        started = time.perf_counter()
        try:
            return self._tables_as_rows(index)
        except (PDFException, PSException, ValueError, KeyError, TypeError) as exc:
            log.warning("pdf.tables_unreadable", page=index + 1, error=f"{type(exc).__name__}: {exc}")
            return None
        finally:
            self._spent_s += time.perf_counter() - started
            if self._spent_s > self._budget_s:
                log.warning("pdf.tables_budget_spent", page=index + 1, seconds=round(self._spent_s, 1))

    def _tables_as_rows(self, index: int) -> str | None:
        if self._pdf is None:
            import pdfplumber

            self._pdf = pdfplumber.open(io.BytesIO(self._data))
        page = self._pdf.pages[index]
        tables = [t for t in page.find_tables() if len(t.rows) >= _MIN_ROWS]
        if not tables:
            return None
        pieces: list[str] = []
        left, top, right, page_bottom = (float(v) for v in page.bbox)
        for table in sorted(tables, key=lambda t: t.bbox[1]):
            _, table_top, _, bottom = table.bbox
            pieces.append(_region_text(page, (left, top, right, table_top)))
            rows = [[" ".join((cell or "").split()) for cell in row] for row in table.extract()]
            pieces.append("\n".join(rows_with_header([r for r in rows if any(r)], header_row=True)))
            top = max(top, bottom)
        pieces.append(_region_text(page, (left, top, right, page_bottom)))
        return "\n".join(piece for piece in pieces if piece.strip())

    def close(self) -> None:
        if self._pdf is not None:
            self._pdf.close()


def _region_text(page: Any, box: tuple[float, float, float, float]) -> str:
    if box[3] - box[1] < 1:
        return ""
    return str(page.crop(box, strict=False).extract_text() or "")
