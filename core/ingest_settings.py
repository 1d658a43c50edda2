"""Settings of ingestion: file and document limits, and the parsing sandbox (the ``ingest`` section).

Kept beside ``core.settings`` so that file stays one screen per concern; ``Settings.ingest`` is
the only way in::

    >>> from core.settings import Settings
    >>> Settings(ingest={"max_pdf_pages": 10}).ingest.max_pdf_pages
    10
"""

from __future__ import annotations

from pydantic import Field

from core.section import Section


class IngestSettings(Section):
    max_file_bytes: int = Field(
        default=50 * 1024 * 1024, ge=1, description="Files larger than this are rejected."
    )
    follow_symlinks: bool = Field(
        default=True,
        description="Read a symbolic link found in a folder being ingested when it leads to a regular file "
        "inside that folder; off: no symbolic link is read. A link out of the folder (a cloned repository's "
        "link to /etc/passwd or /dev/zero) is never read.",
    )
    default_collection: str = Field(default="docs", description="Collection used when none is given.")
    upsert_batch_points: int = Field(
        default=256, ge=1, description="Points per index write when a document is large."
    )
    max_document_chars: int = Field(
        default=5_000_000,
        ge=1000,
        description="Text a document may hold once parsed (about 2,500 pages); a longer one fails alone, "
        "before it is chunked.",
    )
    max_chunks_per_document: int = Field(
        default=10_000, ge=1, description="Chunks one document may become; more fails the document."
    )
    max_unzipped_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1024,
        description="Uncompressed size a DOCX (a zip) may declare, all entries together: a small file that "
        "expands to gigabytes fails before it is opened.",
    )
    max_zip_entries: int = Field(default=10_000, ge=1, description="Entries a DOCX (a zip) may hold.")
    max_pdf_pages: int = Field(default=3000, ge=1, description="Pages a PDF may have.")
    ocr: bool = Field(
        default=True,
        description="Read images (.png .jpg .tiff) and PDF pages with no text layer (scans) with Tesseract "
        "(`tesseract-ocr` and the `ocr` extra; ./scripts/install.sh --dev installs both). Off: such files "
        "fail, and scanned pages are skipped.",
    )
    ocr_language: str = Field(default="eng", description="Tesseract's language(s), e.g. `eng+deu`.")
    max_ocr_pages: int = Field(
        default=15, ge=1, description="Scanned pages (or images) one document may have read by OCR (~1 s each "
        "here: 15 fit the default `parse_timeout_s`; raise both for longer scans).",
    )
    mask_pii: bool = Field(
        default=False,
        description="Mask personal data in the parsed text before it is chunked and indexed, and in the logs: "
        "e-mail addresses become `[email]`, phone numbers `[phone]`, payment card numbers (Luhn-checked) "
        "`[card]` and IBANs (mod-97-checked) `[iban]`. Conservative: dates, amounts, versions and bare digit "
        "runs stay. Documents already indexed are masked on their next ingest (their text changes).",
    )
    parse_isolation: bool = Field(
        default=True,
        description="Parse each document in a separate process held to `parse_timeout_s` and "
        "`parse_memory_bytes`, killed past either: a hostile file fails alone and the process stays up.",
    )
    parse_timeout_s: float = Field(
        default=20.0, gt=0, description="Seconds one document's parsing may take (with `parse_isolation`)."
    )
    parse_memory_bytes: int = Field(
        default=1024 * 1024 * 1024,
        ge=256 * 1024 * 1024,
        description="Address space of the parsing process (with `parse_isolation`, on Linux and macOS).",
    )
