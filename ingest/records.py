"""Spreadsheets and mail: CSV and XLSX as rows that carry their header, e-mail (.eml, .mbox) as its
header fields and its text. Each returns the document's text and title; ``ingest.parsing`` calls
them (in the parsing sandbox, under its limits).

    >>> parse_csv(b"City,Per diem\\nBoston,$79\\n", "rates.csv")
    ('City: Boston · Per diem: $79', [PageSpan(page=2, start=0, label='')])
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import re
from collections.abc import Callable
from datetime import datetime, time
from email.message import EmailMessage, Message
from typing import Any

from core.errors import ParseError
from core.types import PageSpan
from ingest.tables import row_lines
from ingest.text import decode_bytes, joined_with_spans

MAIL_FIELDS = ("From", "To", "Cc", "Date", "Subject")
_DECIMALS = re.compile(r"0\.(0+)")
_CURRENCY = re.compile(r"[$£€¥]")


def parse_csv(data: bytes, name: str) -> tuple[str, list[PageSpan]]:
    """The rows as lines that carry their header, and where each row starts: its record number as a
    spreadsheet shows it (the header is row 1)."""
    text = decode_bytes(data, name)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = [(number, row) for number, row in enumerate(csv.reader(io.StringIO(text), dialect), start=1)
                if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise ParseError(f"{name}: unreadable CSV ({exc})") from exc
    return joined_with_spans([(n, "", line) for n, line in _numbered_lines(rows)], "\n")


def parse_xlsx(data: bytes, name: str, max_cells: int) -> tuple[str, str, list[PageSpan], list[tuple[int, str]]]:
    """Each sheet: its name as a line, then its rows (the first non-empty row is the header). Returns
    the text, the workbook's title, each row's position ("sheet Rates, row 5") and where each sheet
    starts (offset, name), so its chunks can carry the sheet's name."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and its own errors alike
        raise ParseError(f"{name}: corrupt or unreadable XLSX ({type(exc).__name__}: {exc})") from exc
    pieces: list[tuple[int, str, str]] = []
    cells = 0
    try:
        for sheet in book.worksheets:
            rows: list[tuple[int, list[str]]] = []
            # min_row=1: numbered as the spreadsheet shows them, even when the data starts lower.
            for number, values in enumerate(sheet.iter_rows(min_row=1), start=1):
                cells += len(values)
                if cells > max_cells:
                    raise ParseError(f"{name}: over {max_cells:,} cells (ingest.max_document_chars bounds them)")
                row = [_cell(c.value, getattr(c, "number_format", None) or "General") for c in values]
                if any(row):
                    rows.append((number, row))
            if rows:
                where = f"sheet {sheet.title}"
                pieces.append((rows[0][0], f"{where}, row {rows[0][0]}", f"Sheet: {sheet.title}"))
                pieces += [(n, f"{where}, row {n}", line) for n, line in _numbered_lines(rows)]
        title = str(book.properties.title or "") if book.properties else ""
    finally:
        book.close()
    text, spans = joined_with_spans(pieces, "\n")
    sheets = [(span.start, text[span.start:].split("\n", 1)[0].removeprefix("Sheet: "))
              for span in spans if text.startswith("Sheet: ", span.start)]
    return text, title, spans, sheets


def _numbered_lines(rows: list[tuple[int, list[str]]]) -> list[tuple[int, str]]:
    """(row number, line) for each row that becomes a line (the header row does not: each line carries
    it). Single-cell rows above a wider table (its title, a note) are lines of their own, not its header."""
    lead = 0
    if max(_filled(row) for _, row in rows) > 1:
        while lead < len(rows) - 1 and _filled(rows[lead][1]) == 1:
            lead += 1
    above = [(number, " ".join(" ".join(row).split())) for number, row in rows[:lead]]
    table = rows[lead:]
    return above + [(table[index][0], line) for index, line in row_lines([row for _, row in table], header_row=True)]


def _filled(row: list[str]) -> int:
    return sum(1 for cell in row if cell.strip())


def parse_email(data: bytes, name: str, html_text: Callable[[str], str], mbox: bool = False,
                readable: Callable[[str], bool] = lambda filename: False) -> tuple[str, str, list[tuple[str, bytes]]]:
    """A message (or every message of an mbox): its header fields, then its text (the plain part,
    else the HTML part's visible text, by ``html_text``); attachments are named in it, and those
    ``readable`` says a parser reads come back (file name, bytes) to be documents of their own."""
    messages: list[Message] = (_mbox_messages(data) if mbox
                               else [email.message_from_bytes(data, policy=email.policy.default)])
    blocks = [_message_text(m, html_text) for m in messages]
    first = messages[0] if messages else None
    files: list[tuple[str, bytes]] = []
    for message in messages:
        if isinstance(message, EmailMessage):
            for part in message.iter_attachments():
                filename = part.get_filename() or ""
                payload = part.get_payload(decode=True)
                if filename and readable(filename) and isinstance(payload, bytes) and payload:
                    files.append((filename, payload))
    subject = str(first.get("Subject") or "") if first is not None else ""
    return "\n\n".join(b for b in blocks if b), subject, files


def _message_text(message: Message, html_text: Callable[[str], str]) -> str:
    fields = [f"{field}: {' '.join(str(message[field]).split())}" for field in MAIL_FIELDS if message[field]]
    body = ""
    attachments: list[str] = []
    if isinstance(message, EmailMessage):
        part = message.get_body(preferencelist=("plain", "html"))
        if part is not None:
            body = _part_text(part, html_text)
        attachments = [a.get_filename() or "unnamed" for a in message.iter_attachments()]
    elif not message.is_multipart():
        body = _part_text(message, html_text)
    lines = ["\n".join(fields), body.strip()]
    if attachments:
        lines.append("Attachments: " + ", ".join(attachments))
    return "\n\n".join(line for line in lines if line)


def _part_text(part: Message, html_text: Callable[[str], str]) -> str:
    payload: Any = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name
        text = payload.decode("utf-8", errors="replace")
    if part.get_content_type() == "text/html":
        return html_text(text)
    return str(text)


def _mbox_messages(data: bytes) -> list[Message]:
    # The standard mailbox module reads from a path only: split on the "From " lines here.
    chunks: list[bytes] = []
    current: list[bytes] = []
    for line in data.splitlines(keepends=True):
        if line.startswith(b"From ") and current:
            chunks.append(b"".join(current))
            current = []
        current.append(line)
    if current:
        chunks.append(b"".join(current))
    messages: list[Message] = []
    for chunk in chunks:
        body = chunk.split(b"\n", 1)[1] if chunk.startswith(b"From ") else chunk
        messages.append(email.message_from_bytes(body, policy=email.policy.default))
    return messages


def _cell(value: object, number_format: str = "General") -> str:
    """A cell as the spreadsheet shows it: its number format's percent sign, thousands separators,
    decimals and currency symbol (0.075 under "0.0%" is "7.5%", 1250 under "£#,##0.00" is
    "£1,250.00"), a date without a midnight time.

        >>> _cell(0.075, "0.0%"), _cell(1250, '"£"#,##0.00'), _cell(3.0), _cell(datetime(2025, 1, 6))
        ('7.5%', '£1,250.00', '3', '2025-01-06')
    """
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, int | float) and not isinstance(value, bool):
        pattern = number_format.split(";", 1)[0]
        decimals = len(match.group(1)) if (match := _DECIMALS.search(pattern)) else None
        if "%" in pattern:
            return f"{value * 100:.{decimals or 0}f}%"
        if decimals is not None or "," in pattern:
            grouped = f"{value:,.{decimals or 0}f}" if "," in pattern else f"{value:.{decimals or 0}f}"
            symbol = match.group(0) if (match := _CURRENCY.search(pattern)) else ""
            return f"{symbol}{grouped}"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
    return str(value).strip()
