"""Reading scans: pages per second for scanned PDF pages (OCR) next to text PDF pages (the
yardstick, in the same process), and the peak memory.

    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.ocr [--pages 10]

Each PDF holds ``--pages`` pages of the same three sentences: as text, or as a 1700x500 scan (a
PNG, no text layer). Results: bench/results/ocr.json.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.common import peak_rss_mb, write_results
from ingest.ocr import ocr_available
from ingest.parsing import parse_bytes

LINES = ["The lease of Greyfield Unit 4 ends on 30 June 2027.", "Rent is 2,450 GBP per month, due on the 1st.",
         "The tenant insures the contents; the landlord insures the building."]


def pdf_of(pages: int, scanned: bool, path: Path) -> bytes:
    import io

    from fpdf import FPDF

    from tests.fixtures.documents import scanned_page

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    scan = scanned_page(LINES)
    for _ in range(pages):
        pdf.add_page()
        if scanned:
            pdf.image(io.BytesIO(scan), x=10, y=10, w=190)
        else:
            pdf.multi_cell(0, 10, " ".join(LINES))
    pdf.output(str(path))
    return path.read_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10)
    args = parser.parse_args()
    if not ocr_available():
        raise SystemExit("Tesseract and pytesseract are needed: ./scripts/install.sh --dev")
    with tempfile.TemporaryDirectory() as folder:
        text_pdf = pdf_of(args.pages, False, Path(folder) / "text.pdf")
        scan_pdf = pdf_of(args.pages, True, Path(folder) / "scan.pdf")
    timings = {}
    for name, data in (("text", text_pdf), ("scanned", scan_pdf)):
        started = time.perf_counter()
        parsed = parse_bytes(data, f"{name}.pdf")
        seconds = time.perf_counter() - started
        ends = [p.start for p in parsed.pages[1:]] + [len(parsed.text)]
        read = sum("30 June 2027" in parsed.text[p.start:end] for p, end in zip(parsed.pages, ends, strict=True))
        timings[name] = {"seconds": round(seconds, 3), "pages_per_second": round(args.pages / seconds, 2),
                         "pages_read": read}
    result = {"pages": args.pages, **timings,
              "ocr_cost_ratio": round(timings["scanned"]["seconds"] / max(timings["text"]["seconds"], 1e-6), 1),
              "peak_rss_mb": round(peak_rss_mb(), 1)}
    print(result)
    print(write_results("ocr", result))


if __name__ == "__main__":
    main()
