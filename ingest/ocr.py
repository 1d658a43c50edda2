"""OCR for scans: images, and PDF pages with no text layer, read by Tesseract (through pytesseract).

Runs inside the parsing sandbox with the rest of parsing, so a hostile image is bounded by its
deadline and memory cap; Pillow refuses decompression bombs before decoding. Tesseract reads a
scanned page in ~1 s here (bench/ocr.py); ``ingest.max_ocr_pages`` caps how many pages one document may
have read.

    text = ocr_image(png_bytes, "scan.png", OcrSettings())   # "The lease of Unit 4 ends on ..."
"""

from __future__ import annotations

import io
import re
import shutil
from dataclasses import dataclass

from core.errors import DocumentTooLarge, ParseError

_TERMINAL = re.compile(r"[.!?][\"'”’)\]]*$")
_LABEL = re.compile(r"[A-Z][\w .()/#&'-]{0,30}: ")  # a line that opens with a label of its own
# Words a sentence does not end on: a line ending in one goes on in the next.
_CONNECTING = frozenset([
    "a", "an", "the", "of", "to", "in", "on", "at", "by", "for", "from", "with", "under", "and", "or",
    "but", "as", "than", "that", "which", "is", "are", "was", "were", "be", "its", "their", "our",
    "your"
])
MISSING = ("reading scans needs Tesseract: apt-get install tesseract-ocr and pip install 'ragqa[ocr]' "
           "(./scripts/install.sh --dev installs both), or set RAGQA_INGEST__OCR=false")


@dataclass(frozen=True, slots=True)
class OcrSettings:
    enabled: bool = True
    language: str = "eng"
    max_pages: int = 15


class OcrBudget:
    """Counts the pages one document has had read, against ``max_pages``."""

    def __init__(self, settings: OcrSettings, name: str) -> None:
        self.settings = settings
        self.name = name
        self.pages = 0

    def take(self) -> None:
        self.pages += 1
        if self.pages > self.settings.max_pages:
            raise DocumentTooLarge(f"{self.name}: over {self.settings.max_pages} scanned pages to read "
                                   "(ingest.max_ocr_pages)")


def ocr_available() -> bool:
    try:
        import pytesseract  # noqa: F401
    except ImportError:
        return False
    return shutil.which("tesseract") is not None


def ocr_image(data: bytes, name: str, settings: OcrSettings) -> str:
    """The text of an image; ``ParseError`` when it is not one, or OCR is off or not installed."""
    if not settings.enabled:
        raise ParseError(f"{name}: an image, and OCR is off (RAGQA_INGEST__OCR=false)")
    if not ocr_available():
        raise ParseError(f"{name}: {MISSING}")
    import pytesseract
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            frames = getattr(image, "n_frames", 1)
            if frames > settings.max_pages:
                raise DocumentTooLarge(f"{name}: {frames} pages, over {settings.max_pages} (ingest.max_ocr_pages)")
            texts = []
            for frame in range(frames):  # a multi-page TIFF: each page in turn
                image.seek(frame)
                texts.append(pytesseract.image_to_string(image.convert("L"), lang=settings.language))
    except UnidentifiedImageError as exc:
        raise ParseError(f"{name}: unreadable image (corrupt, or not the format its name says)") from exc
    except Image.DecompressionBombError as exc:
        raise DocumentTooLarge(f"{name}: image too large to read ({exc})") from exc
    except (OSError, ValueError) as exc:
        raise ParseError(f"{name}: unreadable image ({type(exc).__name__}: {exc})") from exc
    except pytesseract.TesseractError as exc:
        raise ParseError(f"{name}: OCR failed ({exc})") from exc
    return "\n\n".join(reflow(t) for t in texts if t.strip())


def reflow(text: str) -> str:
    r"""OCR text with a printed line's wraps undone: Tesseract gives each printed line as a line (and
    sometimes a blank line inside a paragraph), so a sentence broken across lines would be quoted
    in halves and a label ("Signed for Northgate Ltd:") apart from its value on the next line. A
    line joins the next when the next goes on in lower case, or the line ends in a comma, a
    semicolon, a hyphen, a small connecting word or a bare label's colon; headings and lines that
    end a sentence stay lines.

        >>> print(reflow("CERTIFICATE\nAssessed on 2 October 2025 under the\nFire Order 2005.\n\n"
        ...              "Signed for Ellison Ltd:\nM. Ellison, Director Date: 14/03/2025"))
        CERTIFICATE
        Assessed on 2 October 2025 under the Fire Order 2005.
        <BLANKLINE>
        Signed for Ellison Ltd: M. Ellison, Director Date: 14/03/2025
        >>> reflow("Rooms are cleaned under the rules\n\nof the lab; benches are not touched.")
        'Rooms are cleaned under the rules of the lab; benches are not touched.'
    """
    lines = text.strip().split("\n")
    out: list[str] = []
    gap = False  # a blank line since the last kept line
    for line in (raw.strip() for raw in lines):
        if not line:
            gap = True
            continue
        if out and _continues(out[-1], line, gap):
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(f"\n{line}" if gap and out else line)
        gap = False
    return "\n".join(out)


def _continues(line: str, following: str, gap: bool) -> bool:
    if _TERMINAL.search(line):
        return False
    if following[0].islower():
        return True
    if gap:
        return False
    last = line.rsplit(maxsplit=1)[-1].lower()
    return (line.endswith((",", ";", "-")) or last in _CONNECTING
            or (line.endswith(":") and ": " not in line and not _LABEL.match(following)))
