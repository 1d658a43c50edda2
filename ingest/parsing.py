"""Parsers for each supported format, returning normalized text (with page spans for PDFs).

    >>> parsed = parse_bytes(b"Hello world.", "note.txt")
    >>> parsed.text, parsed.format
    ('Hello world.', 'txt')
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from core.errors import DocumentTooLarge, ParseError, UnsupportedFormat
from core.ingest_settings import IngestSettings
from core.pii import mask_pii
from core.types import PageSpan
from ingest.books import parse_epub, parse_odt, parse_rtf
from ingest.ocr import OcrBudget, OcrSettings, ocr_available, ocr_image
from ingest.pdf_tables import PdfTables, may_hold_table
from ingest.records import parse_csv, parse_email, parse_xlsx
from ingest.slides import parse_pptx
from ingest.tables import markdown_tables_as_rows, rows_with_header
from ingest.text import clean_document_text, decode_bytes, joined_with_spans

SUPPORTED_SUFFIXES = {".txt": "txt", ".text": "txt", ".md": "md", ".markdown": "md",
                      ".html": "html", ".htm": "html", ".pdf": "pdf", ".docx": "docx",
                      ".csv": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".eml": "eml", ".mbox": "mbox",
                      ".png": "image", ".jpg": "image", ".jpeg": "image", ".tif": "image", ".tiff": "image",
                      ".pptx": "pptx", ".epub": "epub", ".odt": "odt", ".rtf": "rtf"}

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


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """What one document may cost to parse; each is an ``ingest.*`` setting (``from_settings``)."""

    max_chars: int = 5_000_000
    max_unzipped_bytes: int = 256 * 1024 * 1024
    max_zip_entries: int = 10_000
    max_pdf_pages: int = 3000
    ocr: OcrSettings = field(default_factory=OcrSettings)
    mask_pii: bool = False  # not a cost, but parsing is where it applies: personal data masked (core.pii)

    @classmethod
    def from_settings(cls, ingest: IngestSettings) -> ParseLimits:
        return cls(ingest.max_document_chars, ingest.max_unzipped_bytes, ingest.max_zip_entries, ingest.max_pdf_pages,
                   OcrSettings(ingest.ocr, ingest.ocr_language, ingest.max_ocr_pages), ingest.mask_pii)

    def to_json(self) -> str:
        """What the parsing sandbox's child process is started with."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ParseLimits:
        data = json.loads(text)
        return cls(**{**data, "ocr": OcrSettings(**data["ocr"])})


@dataclass(slots=True)
class ParsedText:
    text: str
    format: str
    title: str = ""
    pages: list[PageSpan] = field(default_factory=list)
    page_unit: str = "page"
    # Named parts whose name each of their chunks' titles carries (a workbook's sheets): (offset, name).
    sections: list[tuple[int, str]] = field(default_factory=list)
    # Files inside it that are documents of their own (an e-mail's attachments): (file name, bytes).
    attachments: list[tuple[str, bytes]] = field(default_factory=list)


def format_of(name: str) -> str:
    suffix = Path(name).suffix.lower()
    fmt = SUPPORTED_SUFFIXES.get(suffix)
    if fmt is None:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise UnsupportedFormat(f"{name}: unsupported file type {suffix or '(none)'!r}; supported: {supported}")
    return fmt


def parse_bytes(data: bytes, name: str, limits: ParseLimits | None = None) -> ParsedText:
    """Parse a file's bytes by its extension, its personal data masked with ``limits.mask_pii``.
    Raises UnsupportedFormat, ParseError or DocumentTooLarge."""
    limits = limits or ParseLimits()
    fmt = format_of(name)
    if fmt in ("txt", "md"):
        parsed = ParsedText(clean_document_text(markdown_tables_as_rows(decode_bytes(data, name))), fmt)
        if fmt == "md":
            parsed.title = _markdown_title(parsed.text)
    elif fmt == "html":
        parsed = _parse_html(decode_bytes(data, name))
    elif fmt == "pdf":
        parsed = _parse_pdf(data, name, limits)
    elif fmt == "csv":
        text, rows = parse_csv(data, name)
        parsed = ParsedText(text, fmt, pages=rows, page_unit="row")
    elif fmt == "xlsx":
        _check_zip(data, name, limits)
        text, title, rows, sheets = parse_xlsx(data, name, max_cells=limits.max_chars // 2)
        parsed = ParsedText(text, fmt, title=title, pages=rows, page_unit="row", sections=sheets)
    elif fmt == "pptx":
        _check_zip(data, name, limits)
        text, title, slides = parse_pptx(data, name)
        parsed = ParsedText(text, fmt, title=title, pages=slides, page_unit="slide")
    elif fmt in ("epub", "odt"):
        _check_zip(data, name, limits)
        text, title = (parse_epub(data, name, lambda markup: _parse_html(markup).text) if fmt == "epub"
                       else parse_odt(data, name))
        parsed = ParsedText(clean_document_text(text), fmt, title=title)
    elif fmt == "rtf":
        parsed = ParsedText(clean_document_text(parse_rtf(data, name)[0]), fmt)
    elif fmt == "image":
        parsed = ParsedText(clean_document_text(ocr_image(data, name, limits.ocr)), fmt, pages=[PageSpan(1, 0)])
    elif fmt in ("eml", "mbox"):
        text, title, files = parse_email(data, name, lambda markup: _parse_html(markup).text, mbox=fmt == "mbox",
                                         readable=_readable_attachment)
        parsed = ParsedText(clean_document_text(text), fmt, title=title, attachments=files)
    else:
        _check_zip(data, name, limits)
        parsed = _parse_docx(data, name)
    if not parsed.text:
        raise ParseError(f"{name}: no text found in the document")
    if limits.mask_pii:
        parsed = _masked(parsed)
    _check_chars(len(parsed.text), name, limits)
    return parsed


def _masked(parsed: ParsedText) -> ParsedText:
    """``parsed`` with its personal data masked (``ingest.mask_pii``): the text, the title and the
    names of its pages and sections, every offset moved to where its text now starts."""
    masked = mask_pii(parsed.text)
    return replace(
        parsed, text=masked.text, title=mask_pii(parsed.title).text,
        pages=[replace(p, start=masked.position(p.start), label=mask_pii(p.label).text) for p in parsed.pages],
        sections=[(masked.position(offset), mask_pii(section).text) for offset, section in parsed.sections],
    )


def _readable_attachment(filename: str) -> bool:
    """An attachment a parser reads, mail aside (a forwarded message stays inside its carrier)."""
    fmt = SUPPORTED_SUFFIXES.get(Path(filename).suffix.lower())
    return fmt is not None and fmt not in ("eml", "mbox")


def _check_chars(chars: int, name: str, limits: ParseLimits) -> None:
    if chars > limits.max_chars:
        raise DocumentTooLarge(f"{name}: over {limits.max_chars:,} characters of text (ingest.max_document_chars)")


def _check_zip(data: bytes, name: str, limits: ParseLimits) -> None:
    """Refuses a zip bomb from its central directory, before anything is decompressed.

    The declared sizes can be trusted this far: zipfile stops reading an entry at its declared
    size (a longer stream fails its CRC), so no entry ever expands past what is checked here.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        kind = Path(name).suffix.lstrip(".").upper() or "file"
        raise ParseError(f"{name}: corrupt or unreadable {kind} ({exc})") from exc
    if len(entries) > limits.max_zip_entries:
        raise DocumentTooLarge(f"{name}: {len(entries):,} entries in the archive, over the limit of "
                               f"{limits.max_zip_entries:,} (ingest.max_zip_entries)")
    expanded = sum(entry.file_size for entry in entries)
    if expanded > limits.max_unzipped_bytes:
        raise DocumentTooLarge(f"{name}: expands to {expanded:,} bytes, over the limit of "
                               f"{limits.max_unzipped_bytes:,} (ingest.max_unzipped_bytes)")


def _markdown_title(text: str) -> str:
    for line in text.splitlines()[:20]:
        if line.startswith("# "):
            return line[2:].strip()
    return ""


def _is_boilerplate(element: Any) -> bool:
    attrs = element.attrib
    if attrs.get("role") in ("navigation", "banner", "contentinfo") or attrs.get("aria-hidden") == "true":
        return True
    names = [attrs.get("id") or "", *(attrs.get("class") or "").split()]
    return any(_BOILERPLATE.search(n) for n in names if n)


def _parse_html(markup: str) -> ParsedText:
    # lxml (libxml2) builds the tree in C and caps nesting at 256 levels: time stays linear in the
    # input, where BeautifulSoup took 12 s on 16k nested <div>s and never finished on 100k.
    from lxml import etree
    from lxml import html as lxml_html

    # An XHTML file starts with an XML declaration, which lxml refuses in a str: it says nothing here.
    markup = re.sub(r"^\s*<\?xml[^>]*\?>", "", markup, count=1)
    try:
        root = lxml_html.document_fromstring(markup)
    except (etree.ParserError, ValueError):
        return ParsedText("", "html")  # nothing parseable: "no text found" follows
    title = _element_text(root.find(".//title"))
    doomed = [el for el in root.iter(_DROP_TAGS)]
    doomed += [el for el in root.iter() if isinstance(el.tag, str) and _is_boilerplate(el)]
    for element in doomed:
        if element.getparent() is not None:
            element.drop_tree()  # keeps the text that follows it
    title = title or _element_text(root.find(".//h1"))
    etree.strip_elements(root, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    captioned = _tables_as_rows(root)
    pieces: list[str] = []
    for event, element in etree.iterwalk(root, events=("start", "end")):
        block = element.tag in _BLOCK_TAGS
        if event == "start":
            if block:
                pieces.append("\n")
            if element.text:
                pieces.append(element.text)
        else:
            if block:
                pieces.append("\n")
            if element.tail and element is not root:
                pieces.append(element.tail)
    # Inline whitespace in HTML is insignificant: collapse runs within each line.
    lines = (re.sub(r"[ \t]+", " ", line).strip() for line in "".join(pieces).splitlines())
    text = clean_document_text("\n".join(lines))
    return ParsedText(text, "html", title=title, sections=_caption_sections(text, captioned))


def _caption_sections(text: str, captioned: list[str]) -> list[tuple[int, str]]:
    """Where each captioned table's block sits in the final text: its chunks carry the caption in
    their title, and the text after it goes back to the document's title ("")."""
    sections: list[tuple[int, str]] = []
    cursor = 0
    for block in captioned:
        start = text.find(block, cursor)
        if start < 0:
            continue
        caption = block.split("\n", 1)[0]
        sections += [(start, caption), (start + len(block), "")]
        cursor = start + len(block)
    return sections


def _tables_as_rows(root: Any) -> list[str]:
    """Each outermost <table> becomes a block of lines, one per row, each carrying the header.
    Returns the blocks of the tables that have a caption (their first line)."""
    from lxml import etree

    captioned: list[str] = []
    for table in [t for t in root.iter("table") if not any(a.tag == "table" for a in t.iterancestors())]:
        trs = list(table.iter("tr"))
        rows = [[_element_text(cell) for cell in tr if cell.tag in ("td", "th")] for tr in trs]
        header_row = bool(trs) and any(cell.tag == "th" for cell in trs[0])
        block = etree.Element("div")
        caption = table.find("caption")
        lines = ([_element_text(caption)] if caption is not None else []) + rows_with_header(
            [r for r in rows if r], header_row)
        block.text = "\n".join(line for line in lines if line)
        block.tail = table.tail
        parent = table.getparent()
        if parent is not None:
            parent.replace(table, block)
            if caption is not None and _element_text(caption) and len(lines) > 1:
                captioned.append(block.text)
    return captioned


def _element_text(element: Any) -> str:
    if element is None:
        return ""
    return " ".join(element.text_content().split())


def _parse_pdf(data: bytes, name: str, limits: ParseLimits) -> ParsedText:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    tables = PdfTables(data)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ParseError(f"{name}: PDF is encrypted")
        if len(reader.pages) > limits.max_pdf_pages:
            raise DocumentTooLarge(f"{name}: {len(reader.pages):,} pages, over the limit of "
                                   f"{limits.max_pdf_pages:,} (ingest.max_pdf_pages)")
        page_texts: list[str] = []
        chars = 0
        scans = OcrBudget(limits.ocr, name) if limits.ocr.enabled and ocr_available() else None
        for index, page in enumerate(reader.pages):  # stops at the character limit, not after extracting everything
            text = page.extract_text() or ""
            if not text.strip() and scans is not None:  # no text layer: a scanned page
                text = _ocr_page(page, name, scans)
            elif may_hold_table(page):
                text = tables.page_text(index) or text
            page_texts.append(clean_document_text(text))
            chars += len(page_texts[-1])
            _check_chars(chars, name, limits)
        title = str(reader.metadata.get("/Title") or "") if reader.metadata else ""
    except (ParseError, DocumentTooLarge):
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ParseError(f"{name}: corrupt or unreadable PDF ({exc})") from exc
    finally:
        tables.close()
    text, pages = joined_with_spans((number, "", page_text) for number, page_text in enumerate(page_texts, start=1))
    return ParsedText(text, "pdf", title=title, pages=pages)


def _row_cells(row: Any) -> list[str]:
    """A row's cell texts; python-docx repeats a merged cell in every column it spans: kept once."""
    seen: set[int] = set()
    cells = []
    for cell in row.cells:
        element = id(cell._tc)
        cells.append("" if element in seen else cell.text)
        seen.add(element)
    return cells


def _ocr_page(page: Any, name: str, scans: OcrBudget) -> str:
    """The text of a page's images (a scan is one image a page), read by OCR."""
    texts = []
    for image in page.images:
        scans.take()
        try:
            texts.append(ocr_image(image.data, f"{name} ({image.name})", scans.settings))
        except ParseError:
            continue  # an image OCR cannot read (a logo, a chart): the rest of the page still counts
    return "\n\n".join(t for t in texts if t)


def _parse_docx(data: bytes, name: str) -> ParsedText:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, ValueError, KeyError, OSError) as exc:
        raise ParseError(f"{name}: corrupt or unreadable DOCX ({exc})") from exc
    except Exception as exc:  # zipfile.BadZipFile and lxml errors vary by version
        raise ParseError(f"{name}: corrupt or unreadable DOCX ({type(exc).__name__}: {exc})") from exc
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    # The body in document order: a table stays where it is, as rows that carry its header.
    blocks: list[str] = []
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            blocks.append(Paragraph(child, document).text)
        elif tag == "tbl":
            rows = [_row_cells(row) for row in Table(child, document).rows]
            blocks.append("\n".join(rows_with_header(rows)))
    title = document.core_properties.title or ""
    return ParsedText(clean_document_text("\n\n".join(blocks)), "docx", title=title)
