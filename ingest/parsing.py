"""Parsers for each supported format, returning normalized text (with page spans for PDFs).

    >>> parsed = parse_bytes(b"Hello world.", "note.txt")
    >>> parsed.text, parsed.format
    ('Hello world.', 'txt')
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ParseError, UnsupportedFormat
from core.types import PageSpan
from ingest.text import decode_bytes, normalize_text

SUPPORTED_SUFFIXES = {".txt": "txt", ".text": "txt", ".md": "md", ".markdown": "md",
                      ".html": "html", ".htm": "html", ".pdf": "pdf", ".docx": "docx"}

# Elements that are page furniture rather than content.
_DROP_TAGS = ("script", "style", "noscript", "template", "svg", "iframe", "nav", "header",
              "footer", "aside", "form", "button", "select", "head")
_BOILERPLATE = re.compile(
    r"(^|[-_ ])(nav|navbar|navigation|menu|sidebar|breadcrumbs?|footer|header|cookie|banner|"
    r"jump-to-nav|catlinks|printfooter|toc|skip|share|social|advert|ads?)($|[-_ ])",
    re.IGNORECASE,
)
_BLOCK_TAGS = ("p", "div", "section", "article", "main", "li", "ul", "ol", "table", "tr", "br",
               "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "dd", "dt", "figcaption")


@dataclass(slots=True)
class ParsedText:
    text: str
    format: str
    title: str = ""
    pages: list[PageSpan] = field(default_factory=list)


def format_of(name: str) -> str:
    suffix = Path(name).suffix.lower()
    fmt = SUPPORTED_SUFFIXES.get(suffix)
    if fmt is None:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise UnsupportedFormat(f"{name}: unsupported file type {suffix or '(none)'!r}; supported: {supported}")
    return fmt


def parse_bytes(data: bytes, name: str) -> ParsedText:
    """Parse a file's bytes by its extension. Raises UnsupportedFormat or ParseError."""
    fmt = format_of(name)
    if fmt in ("txt", "md"):
        parsed = ParsedText(normalize_text(decode_bytes(data, name)), fmt)
        if fmt == "md":
            parsed.title = _markdown_title(parsed.text)
    elif fmt == "html":
        parsed = _parse_html(decode_bytes(data, name))
    elif fmt == "pdf":
        parsed = _parse_pdf(data, name)
    else:
        parsed = _parse_docx(data, name)
    if not parsed.text:
        raise ParseError(f"{name}: no text found in the document")
    return parsed


def _markdown_title(text: str) -> str:
    for line in text.splitlines()[:20]:
        if line.startswith("# "):
            return line[2:].strip()
    return ""


def _is_boilerplate(tag: object) -> bool:
    attrs = getattr(tag, "attrs", None) or {}
    if attrs.get("role") in ("navigation", "banner", "contentinfo") or attrs.get("aria-hidden") == "true":
        return True
    names = [attrs.get("id") or "", *(attrs.get("class") or [])]
    return any(_BOILERPLATE.search(str(n)) for n in names if n)


def _parse_html(markup: str) -> ParsedText:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag else ""
    for tag in soup(_DROP_TAGS):
        tag.decompose()
    for tag in soup.find_all(_is_boilerplate):
        if not tag.decomposed:
            tag.decompose()
    if not title:
        h1 = soup.find("h1")
        title = h1.get_text(" ", strip=True) if h1 else ""
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    text = soup.get_text()
    # Inline whitespace in HTML is insignificant: collapse runs within each line.
    lines = (re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines())
    return ParsedText(normalize_text("\n".join(lines)), "html", title=title)


def _parse_pdf(data: bytes, name: str) -> ParsedText:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ParseError(f"{name}: PDF is encrypted")
        page_texts = [normalize_text(page.extract_text() or "") for page in reader.pages]
        title = str(reader.metadata.get("/Title") or "") if reader.metadata else ""
    except ParseError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ParseError(f"{name}: corrupt or unreadable PDF ({exc})") from exc
    pieces: list[str] = []
    pages: list[PageSpan] = []
    offset = 0
    for number, page_text in enumerate(page_texts, start=1):
        if not page_text:
            continue
        if pieces:
            offset += 2  # the "\n\n" joining pages
        pages.append(PageSpan(page=number, start=offset))
        pieces.append(page_text)
        offset += len(page_text)
    return ParsedText("\n\n".join(pieces), "pdf", title=title, pages=pages)


def _parse_docx(data: bytes, name: str) -> ParsedText:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, ValueError, KeyError, OSError) as exc:
        raise ParseError(f"{name}: corrupt or unreadable DOCX ({exc})") from exc
    except Exception as exc:  # zipfile.BadZipFile and lxml errors vary by version
        raise ParseError(f"{name}: corrupt or unreadable DOCX ({type(exc).__name__}: {exc})") from exc
    blocks = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            blocks.append(" | ".join(cell.text for cell in row.cells))
    title = document.core_properties.title or ""
    return ParsedText(normalize_text("\n\n".join(blocks)), "docx", title=title)
