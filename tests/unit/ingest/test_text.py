from __future__ import annotations

import pytest

from core.errors import ParseError
from ingest.text import clean_document_text, decode_bytes


def test_clean_document_text_is_idempotent_and_canonical() -> None:
    raw = "Cafe\u0301  \r\nline two\t \r\n\r\n\r\n\r\nthird\x00 line\u00a0end  "
    once = clean_document_text(raw)
    assert once == "Café\nline two\n\nthird line end"
    assert clean_document_text(once) == once


def test_decode_utf8_with_bom() -> None:
    assert decode_bytes("\ufeffnaïve text".encode(), "a.txt") == "naïve text"


def test_decode_detects_latin1() -> None:
    text = "Le garçon a mangé une crème brûlée près de la fenêtre. " * 20
    assert decode_bytes(text.encode("latin-1"), "fr.txt") == text


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"", "empty"), (b"   \n\t ", "empty"), (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary")],
)
def test_decode_rejects_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        decode_bytes(data, "bad.txt")
