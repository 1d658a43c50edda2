"""Tables as rows that carry their header: one line per row, each cell named by its column.

A table flattened into a run of cells loses which value is which ("Boston 79 258"): a row
becomes ``City: Boston · Per diem: $79 · Lodging: $258``, so the row alone answers "What is the
per-diem rate for Boston?", is retrieved by those words, and is quoted whole as evidence. The
HTML, DOCX and markdown parsers call these.

    >>> row_with_header(["City", "Per diem", ""], ["Boston", "$79", "note"])
    'City: Boston · Per diem: $79 · note'
    >>> print(markdown_tables_as_rows("Rates:\\n\\n| City | Per diem |\\n|---|---:|\\n| Boston | $79 |\\n"))
    Rates:
    <BLANKLINE>
    City: Boston · Per diem: $79
    <BLANKLINE>
"""

from __future__ import annotations

import re
from collections.abc import Sequence

SEPARATOR = " · "
_NOTE_WORDS = 5
_MD_SEPARATOR_ROW = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def row_with_header(header: Sequence[str], cells: Sequence[str]) -> str:
    """One row, each non-empty cell named by its column (a cell under an empty header stays bare)."""
    parts = []
    for i, cell in enumerate(cells):
        value = " ".join(cell.split())
        if not value:
            continue
        name = " ".join(header[i].split()) if i < len(header) else ""
        parts.append(f"{name}: {value}" if name and name != value else value)
    return SEPARATOR.join(parts)


def rows_with_header(rows: Sequence[Sequence[str]], header_row: bool | None = None) -> list[str]:
    """A table's lines: its first row is the header, each later row carries it. Unless the source
    marks a header row (``header_row``: HTML's ``<th>``), a two-column table is read as labels and
    values ("Lifespan: 50 years"), its first row included.

        >>> rows_with_header([["Lifespan", "50 years"], ["Diet", "ants"]])
        ['Lifespan: 50 years', 'Diet: ants']
    """
    return [line for _, line in row_lines(rows, header_row)]


def row_lines(rows: Sequence[Sequence[str]], header_row: bool | None = None) -> list[tuple[int, str]]:
    """``rows_with_header`` with each line's row (its index in ``rows``), for sources that cite rows.

        >>> row_lines([["City", "Per diem"], ["Boston", "$79"], ["", ""], ["Rates are per day, in USD.", ""]],
        ...           header_row=True)
        [(1, 'City: Boston · Per diem: $79'), (3, 'Rates are per day, in USD.')]
    """
    if not header_row and all(len(r) <= 2 for r in rows):
        lines = [row_with_header(row[:1], row[1:]) if len(row) == 2 and row[0].strip() else _bare(row) for row in rows]
        numbered = list(enumerate(lines))
    elif len(rows) < 2:
        numbered = [(i, _bare(row)) for i, row in enumerate(rows)]
    else:
        numbered = [(i, _bare(row) if _is_note(row) else row_with_header(rows[0], row))
                    for i, row in enumerate(rows) if i > 0]
    return [(i, line) for i, line in numbered if line]


def _is_note(row: Sequence[str]) -> bool:
    """A row that is one sentence across the table ("Discounts do not apply to consumables."): a
    footnote, not a value of the first column."""
    filled = [cell for cell in row if cell.strip()]
    return len(row) > 1 and len(filled) == 1 and len(filled[0].split()) >= _NOTE_WORDS


def _bare(row: Sequence[str]) -> str:
    return SEPARATOR.join(" ".join(c.split()) for c in row if c.strip())


def markdown_tables_as_rows(text: str) -> str:
    """Each markdown pipe table (a header row, a ``|---|`` row, then rows) becomes its rows with headers;
    everything else is left as it is."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        if i + 1 < len(lines) and "|" in lines[i] and _MD_SEPARATOR_ROW.match(lines[i + 1]) and "-" in lines[i + 1]:
            header = _cells(lines[i])
            j = i + 2
            body = []
            while j < len(lines) and "|" in lines[j] and lines[j].strip():
                body.append(_cells(lines[j]))
                j += 1
            out.extend(line for line in (row_with_header(header, row) for row in body) if line)
            i = j
            continue
        out.append(lines[i])
        i += 1
    return "\n".join(out)


def _cells(line: str) -> list[str]:
    stripped = line.strip()
    if stripped.startswith("|"):
        stripped = stripped[1:]
    if stripped.endswith("|") and not stripped.endswith("\\|"):
        stripped = stripped[:-1]
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", stripped)]
