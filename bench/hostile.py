"""Hostile files against the ingestion limits: each fails alone (or ingests within limits), fast
and in bounded memory, through the CLI and through ``POST /documents``; the good file beside them
is ingested.

    .venv/bin/python -m bench.hostile [--pdf-mb 30]

Files: a DOCX of 1 MB that expands to 1.1 GB (zip bomb), HTML nested 100,000 deep, a text PDF
of ``--pdf-mb`` MB (about 4,000 pages), one of 10 MB (1,400 pages, 9 M characters), and one good
article. Each path runs in a fresh temp store; the peak RSS is the
sum over the command's (or server's) process tree, polled every 50 ms. The yardstick, in the same
run: the same command on the good article alone.

Results: bench/results/hostile.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench.api_client import LiveApi, multipart_files
from bench.common import write_results
from tests.fixtures.documents import write_deep_html, write_zip_bomb_docx

REPO = Path(__file__).resolve().parents[1]
GOOD = REPO / "tests" / "data" / "cmu-qa-dev" / "articles" / "set1" / "a1.txt"


def write_text_pdf(path: Path, megabytes: int) -> Path:
    """A PDF of plain text pages, about ``megabytes`` MB, written directly (a PDF library takes minutes)."""
    line = b"(The quarterly report lists every shipment, its weight, its port and its date.) Tj T*\n"
    content = b"BT /F1 8 Tf 10 TL 20 810 Td\n" + line * 80 + b"ET\n"
    pages = max(1, megabytes * 1024 * 1024 // (len(content) + 200))
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b"", font]
    kids = []
    for _ in range(pages):
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream")
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
                       b"/Contents %d 0 R >>" % len(objects))
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Count %d /Kids [%s] >>" % (pages, b" ".join(b"%d 0 R" % k for k in kids))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def tree_rss(process: psutil.Process) -> int:
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total


def run_measured(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watched = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        peak = max(peak, tree_rss(watched))
        time.sleep(0.05)
    out, err = child.communicate()
    return {"seconds": round(time.perf_counter() - started, 2), "peak_rss_mb": round(peak / 2**20),
            "exit": child.returncode, "stdout": out, "stderr": err[-2000:]}


def cli_run(folder: Path, store: Path) -> dict[str, Any]:
    env = {**os.environ, "RAGQA_QDRANT__PATH": str(store), "HF_HUB_OFFLINE": "1"}
    result = run_measured([sys.executable, "-m", "cli.main", "ingest", str(folder), "--json"], env)
    report = json.loads(result.pop("stdout") or "{}")
    failures = {f["doc_id"]: {"code": f["error_code"], "seconds_reason": f["reason"][:160]}
                for f in report.get("failures", [])}
    return {**result, "added": report.get("added"), "failed": failures, "seconds_ingest": report.get("seconds")}


def api_run(files: list[Path], tmp: Path) -> dict[str, Any]:
    """Uploads ``files`` to a fresh server and follows the job, watching the server's process tree."""
    env = {"RAGQA_QDRANT__PATH": str(tmp / "qdrant"), "RAGQA_REDIS__EMBEDDED_PATH": str(tmp / "redis" / "r.rdb"),
           "RAGQA_API__UPLOAD_DIR": str(tmp / "uploads"), "RAGQA_API__RATE_LIMIT_PER_MINUTE": "0",
           "HF_HUB_OFFLINE": "1"}  # fmt: skip
    (tmp / "redis").mkdir(parents=True)
    with LiveApi(env) as api:
        assert api.process is not None
        server = psutil.Process(api.process.pid)
        body, content_type = multipart_files(files)
        conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=300)
        started = time.perf_counter()
        conn.request("POST", "/documents", body=body, headers={"content-type": content_type})
        accepted = json.loads(conn.getresponse().read())
        peak = 0
        while True:
            peak = max(peak, tree_rss(server))
            conn.request("GET", f"/jobs/{accepted['job_id']}")
            job = json.loads(conn.getresponse().read())
            if job["state"] not in ("queued", "running"):
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        conn.close()
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(peak / 2**20), "counts": job["counts"],
            "failed": {d["doc_id"]: {"code": d["error_code"], "reason": (d["reason"] or "")[:160]}
                       for d in job["documents"] if d["state"] == "failed"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pdf-mb", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ragqa-bench-hostile-") as tmp:
        root = Path(tmp)
        hostile = {
            "bomb.docx": write_zip_bomb_docx(root / "files" / "bomb.docx", expanded_mb=1100),
            "deep.html": write_deep_html(root / "files" / "deep.html", depth=100_000),
            "big.pdf": write_text_pdf(root / "files" / "big.pdf", args.pdf_mb),
            "mid.pdf": write_text_pdf(root / "files" / "mid.pdf", 10),  # under the page limit: the text limit
        }
        sizes = {name: round(path.stat().st_size / 2**20, 2) for name, path in hostile.items()}
        good = root / "good"
        good.mkdir()
        (good / "kangaroo.txt").write_bytes(GOOD.read_bytes())
        yardstick = cli_run(good, root / "store-yardstick")
        runs = {}
        for name, path in hostile.items():
            folder = root / f"with-{name}"
            folder.mkdir()
            (folder / "kangaroo.txt").write_bytes(GOOD.read_bytes())
            os.link(path, folder / name)
            runs[name] = cli_run(folder, root / f"store-{name}")
        uploads = {name: api_run([GOOD, path], root / f"api-{name}") for name, path in hostile.items()}
    results = {"sizes_mb": sizes, "cli_yardstick": yardstick, "cli": runs, "api": uploads,
               "bar": {name: r["seconds"] < 30 and r["peak_rss_mb"] < 2048 and r["added"] == 1
                       and uploads[name]["counts"]["done"] == 1 for name, r in runs.items()}}  # fmt: skip
    print(json.dumps({k: v for k, v in results.items()}, indent=2, default=str))
    write_results("hostile", results)


if __name__ == "__main__":
    main()
