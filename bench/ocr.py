"""Reading scans and ruled tables: pages per second for scanned PDF pages (OCR) and for pages
holding a ruled table (pdfplumber's layout analysis) next to text PDF pages (the yardstick, in the
same process), and the peak memory.

    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.ocr [--pages 10]

Each PDF holds ``--pages`` pages of the same three sentences: as text, as a 1700x500 scan (a PNG,
no text layer), or as a ruled table of eight rows, one of which holds the lease's end date.
Results: bench/results/ocr.json.
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


TABLE = [("Item", "Date or amount", "Unit"), ("Lease end", "30 June 2027", "Greyfield Unit 4"),
         *[(f"Rent review {year}", f"1 July {year}", "Greyfield Unit 4") for year in range(2020, 2026)],
         ("Deposit", "4,900 GBP", "Greyfield Unit 4")]


def pdf_of(pages: int, kind: str, path: Path) -> bytes:
    import io

    from fpdf import FPDF

    from tests.fixtures.documents import scanned_page

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    scan = scanned_page(LINES)
    for _ in range(pages):
        pdf.add_page()
        if kind == "scanned":
            pdf.image(io.BytesIO(scan), x=10, y=10, w=190)
        elif kind == "table":
            with pdf.table() as table:
                for cells in TABLE:
                    row = table.row()
                    for cell in cells:
                        row.cell(cell)
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
        pdfs = {kind: pdf_of(args.pages, kind, Path(folder) / f"{kind}.pdf") for kind in ("text", "table", "scanned")}
    timings = {}
    for name, data in pdfs.items():
        started = time.perf_counter()
        parsed = parse_bytes(data, f"{name}.pdf")
        seconds = time.perf_counter() - started
        ends = [p.start for p in parsed.pages[1:]] + [len(parsed.text)]
        needle = "Date or amount: 30 June 2027" if name == "table" else "30 June 2027"  # a row with its header
        read = sum(needle in parsed.text[p.start:end] for p, end in zip(parsed.pages, ends, strict=True))
        timings[name] = {"seconds": round(seconds, 3), "pages_per_second": round(args.pages / seconds, 2),
                         "pages_read": read}
    result = {"pages": args.pages, **timings,
              "ocr_cost_ratio": round(timings["scanned"]["seconds"] / max(timings["text"]["seconds"], 1e-6), 1),
              "table_cost_ratio": round(timings["table"]["seconds"] / max(timings["text"]["seconds"], 1e-6), 1),
              "peak_rss_mb": round(peak_rss_mb(), 1)}
    print(result)
    print(write_results("ocr", result))


if __name__ == "__main__":
    main()
