"""Decoding bytes to text and normalizing text, so content hashes and spans are stable."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from charset_normalizer import from_bytes

from core.errors import ParseError
from core.types import PageSpan

_TRAILING_SPACE = re.compile(r"[ \t\f\v]+\n")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Detection below this coherence is a guess we would rather not index as garbage.
_MIN_DETECTION_COHERENCE = 0.2
_MAX_CHAOS = 0.3
_PREFERRED_LEGACY = ("cp1252", "latin_1", "iso8859_15")


def decode_bytes(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM) first; otherwise the detected encoding; otherwise ParseError."""
    if not data.strip():
        raise ParseError(f"{name}: file is empty")
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ParseError(f"{name}: looks like a binary file (NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    matches = list(from_bytes(data))
    if not matches:
        raise ParseError(f"{name}: text is not UTF-8 and its encoding could not be detected")
    best = matches[0]
    # Single-byte Western encodings decode the same bytes equally "cleanly"; among equally good
    # candidates prefer windows-1252, by far the most common legacy encoding (as browsers do).
    for match in matches:
        if match.encoding in _PREFERRED_LEGACY and match.chaos <= best.chaos:
            best = match
            break
    if best.coherence < _MIN_DETECTION_COHERENCE and best.chaos > _MAX_CHAOS:
        raise ParseError(f"{name}: text is not UTF-8 and its encoding could not be detected reliably")
    return str(best)


def clean_document_text(text: str) -> str:
    """A document's canonical text (what is hashed, chunked and quoted): NFC, Unix newlines, no
    control characters, no trailing spaces, at most one blank line.

    Idempotent: ``clean_document_text(clean_document_text(t)) == clean_document_text(t)``.
    """
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    text = _CONTROL.sub("", text)
    text = _TRAILING_SPACE.sub("\n", text + "\n")
    text = _MANY_BLANK_LINES.sub("\n\n", text)
    return text.strip()


def joined_with_spans(pieces: Iterable[tuple[int, str, str]], separator: str = "\n\n") -> tuple[str, list[PageSpan]]:
    """Pieces of a paged document, each ``(number, label, text)``: their texts joined by
    ``separator``, and where each non-empty one starts (its PageSpan). Each text is cleaned first,
    so the joined text is already canonical and the offsets hold."""
    texts: list[str] = []
    spans: list[PageSpan] = []
    offset = 0
    for number, label, text in pieces:
        text = clean_document_text(text)
        if not text:
            continue
        if texts:
            offset += len(separator)
        spans.append(PageSpan(page=number, start=offset, label=label))
        texts.append(text)
        offset += len(text)
    return separator.join(texts), spans
