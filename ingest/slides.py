"""Slides (PPTX, through python-pptx): slide by slide, each slide's text in reading order (text
boxes, tables as rows that carry their header, grouped shapes), then its speaker notes; the slide
number is the page a citation names ("slide 3").

    text, title, slides = parse_pptx(data, "deck.pptx")   # slides: one PageSpan per slide with text
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from core.errors import ParseError
from core.types import PageSpan
from ingest.tables import rows_with_header
from ingest.text import joined_with_spans


def parse_pptx(data: bytes, name: str) -> tuple[str, str, list[PageSpan]]:
    from pptx import Presentation

    try:
        deck = Presentation(io.BytesIO(data))
    except Exception as exc:  # python-pptx raises zipfile, KeyError and lxml errors alike
        raise ParseError(f"{name}: corrupt or unreadable PPTX ({type(exc).__name__}: {exc})") from exc
    pieces: list[tuple[int, str, str]] = []
    title = str(deck.core_properties.title or "")
    for number, slide in enumerate(deck.slides, start=1):
        lines = [line for shape in slide.shapes for line in _shape_lines(shape)]
        if slide.has_notes_slide:
            notes = " ".join(slide.notes_slide.notes_text_frame.text.split())
            if notes:
                lines.append(f"Notes: {notes}")
        text = "\n".join(line for line in lines if line.strip())
        if not title and text.strip() and slide.shapes.title is not None:
            title = " ".join(slide.shapes.title.text.split())
        pieces.append((number, "", text))
    text, slides = joined_with_spans(pieces)
    return text, title, slides


def _shape_lines(shape: Any) -> Iterator[str]:
    if getattr(shape, "shapes", None) is not None:  # a group: its shapes in order
        for inner in shape.shapes:
            yield from _shape_lines(inner)
    elif getattr(shape, "has_table", False) and shape.has_table:
        rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
        yield from rows_with_header(rows, header_row=True)
    elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        for paragraph in shape.text_frame.paragraphs:
            text = " ".join("".join(run.text for run in paragraph.runs).split())
            if text:
                yield text
