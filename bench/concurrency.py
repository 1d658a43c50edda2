"""Concurrent questions on one `ragqa serve` process: no 5xx, every answer within its deadline,
and the server stays responsive (``/healthz``) while it answers.

    .venv/bin/python -m bench.concurrency [--concurrency 16] [--deadline 20] [--modes extractive generative]

For each answer mode, a fresh server (uvicorn in a subprocess, embedded Qdrant and Redis in a
temp folder, the answer cache off so every question is answered) ingests three in-repo articles,
then ``--concurrency`` clients ask distinct questions at once while another polls ``/healthz``
every 50 ms. The yardstick, in the same run and process: ``/healthz`` with no question in flight;
the figure is the ratio of its p95 under load to that.

- ``extractive`` is the embedded default: no LLM.
- ``generative`` runs SmolLM2 in-process (llama.cpp, one generation at a time): past
  ``llm.max_waiting`` queued answers, or the answer's deadline, a question gets the extractive
  answer (``degraded``) instead of waiting.

Results: bench/results/concurrency.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.api_client import LiveApi, multipart_files
from bench.common import write_results
from core.stats import percentile

REPO = Path(__file__).resolve().parents[1]
ARTICLES = REPO / "tests" / "data" / "cmu-qa-dev" / "articles" / "set1"
QUESTIONS = [
    "What do kangaroos eat?", "How long do kangaroos live?", "What is a group of kangaroos called?",
    "Where do kangaroos live?", "How fast can a kangaroo hop?", "What is a baby kangaroo called?",
    "Are kangaroos marsupials?", "What predators do kangaroos have?", "How big is a red kangaroo?",
    "What do otters eat?", "Where do sea otters live?", "Do otters use tools?", "How do otters keep warm?",
    "How many species of otter are there?", "What is a group of otters called?", "Are otters endangered?",
    "Where do penguins live?", "Can penguins fly?", "What do penguins eat?", "What is the largest penguin?",
]  # fmt: skip


def healthz_ms(port: int, stop: threading.Event, out: list[float]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while not stop.is_set():
        started = time.perf_counter()
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        out.append((time.perf_counter() - started) * 1000)
        time.sleep(0.05)
    conn.close()


def ask(port: int, question: str, results: list[dict[str, Any]]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    started = time.perf_counter()
    conn.request("POST", "/ask", body=json.dumps({"question": question}).encode(),
                 headers={"content-type": "application/json"})
    response = conn.getresponse()
    body = json.loads(response.read() or b"{}")
    results.append({"status": response.status, "ms": (time.perf_counter() - started) * 1000,
                    "degraded": body.get("degraded"), "mode": body.get("mode")})
    conn.close()


def run_mode(mode: str, concurrency: int, deadline_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ragqa-bench-concurrency-") as tmp:
        env = {"RAGQA_QDRANT__PATH": f"{tmp}/qdrant", "RAGQA_REDIS__EMBEDDED_PATH": f"{tmp}/redis/r.rdb",
               "RAGQA_API__UPLOAD_DIR": f"{tmp}/uploads", "RAGQA_REDIS__CACHE_ENABLED": "false",
               "RAGQA_API__RATE_LIMIT_PER_MINUTE": "0", "RAGQA_API__ANSWER_TIMEOUT_S": str(deadline_s),
               "RAGQA_ANSWER__MODE": mode, "HF_HUB_OFFLINE": "1"}  # fmt: skip
        Path(f"{tmp}/redis").mkdir()
        with LiveApi(env) as api:
            upload(api.port, [ARTICLES / "a1.txt", ARTICLES / "a3.txt", ARTICLES / "a7.txt"])
            idle: list[float] = []
            stop = threading.Event()
            poller = threading.Thread(target=healthz_ms, args=(api.port, stop, idle))
            poller.start()
            time.sleep(3.0)
            stop.set()
            poller.join()
            ask(api.port, QUESTIONS[0], [])  # warm: the first answer loads what loads lazily
            loaded: list[float] = []
            stop = threading.Event()
            poller = threading.Thread(target=healthz_ms, args=(api.port, stop, loaded))
            poller.start()
            results: list[dict[str, Any]] = []
            started = time.perf_counter()
            threads = [threading.Thread(target=ask, args=(api.port, QUESTIONS[i % len(QUESTIONS)], results))
                       for i in range(concurrency)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall_s = time.perf_counter() - started
            stop.set()
            poller.join()
    latencies = [r["ms"] for r in results]
    idle_p95, loaded_p95 = percentile(idle, 95), percentile(loaded, 95)
    return {
        "mode": mode, "concurrency": concurrency, "deadline_s": deadline_s, "wall_s": round(wall_s, 2),
        "status": {str(s): sum(1 for r in results if r["status"] == s) for s in sorted({r["status"] for r in results})},
        "server_errors": sum(1 for r in results if r["status"] >= 500),
        "answer_ms": {"p50": round(percentile(latencies, 50), 1), "max": round(max(latencies), 1)},
        "within_deadline_plus_2s": all(ms <= (deadline_s + 2) * 1000 for ms in latencies),
        "degraded": {str(k): sum(1 for r in results if r["degraded"] == k) for k in {r["degraded"] for r in results}},
        "healthz_ms": {"idle_p95": round(idle_p95, 2), "loaded_p95": round(loaded_p95, 2),
                       "loaded_max": round(max(loaded), 2), "ratio_p95": round(loaded_p95 / idle_p95, 2)},
    }  # fmt: skip


def upload(port: int, files: list[Path]) -> None:
    body, content_type = multipart_files(files)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("POST", "/documents", body=body, headers={"content-type": content_type})
    job = json.loads(conn.getresponse().read())
    while True:
        conn.request("GET", f"/jobs/{job['job_id']}")
        state = json.loads(conn.getresponse().read())
        if state["state"] not in ("queued", "running"):
            break
        time.sleep(0.3)
    conn.close()
    if state["counts"]["done"] != len(files):
        raise RuntimeError(f"the articles were not ingested: {state['counts']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--deadline", type=float, default=20.0, help="api.answer_timeout_s for the run")
    parser.add_argument("--modes", nargs="+", default=["extractive", "generative"])
    args = parser.parse_args()
    runs = [run_mode(mode, args.concurrency, args.deadline) for mode in args.modes]
    table = Table(title=f"{args.concurrency} concurrent /ask, deadline {args.deadline:g} s")
    for column in ("mode", "5xx", "answer p50 / max ms", "within deadline+2s", "degraded", "healthz p95 idle/load"):
        table.add_column(column)
    for r in runs:
        table.add_row(r["mode"], str(r["server_errors"]), f"{r['answer_ms']['p50']} / {r['answer_ms']['max']}",
                      str(r["within_deadline_plus_2s"]), json.dumps(r["degraded"]),
                      f"{r['healthz_ms']['idle_p95']} / {r['healthz_ms']['loaded_p95']} ms")
    Console().print(table)
    write_results("concurrency", {"runs": runs})


if __name__ == "__main__":
    main()
