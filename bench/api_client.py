"""Plumbing of ``bench/api.py``: the server process (the app plus the floor route), a lean HTTP
client, and the concurrent load generator.

The floor route lives only in the benchmark's app (``bench_app``), never in the product: it is
the least a FastAPI route on this server can do for a cached answer, one Redis GET returned as is.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.stats import percentile

FLOOR_KEY = "bench:floor"


def bench_app() -> Any:
    """uvicorn factory: ``create_app(Settings())`` plus ``POST /bench/floor``."""
    import redis.asyncio as aioredis
    from fastapi import Response

    from api.app import create_app
    from core.settings import Settings

    settings = Settings()
    app = create_app(settings)
    key = f"{settings.redis.key_prefix}{FLOOR_KEY}"
    clients: dict[str, aioredis.Redis] = {}

    app.state.public_paths.add("/bench/floor")  # bare: no key check, no rate limit

    @app.post("/bench/floor", include_in_schema=False)
    async def floor() -> Response:
        client = clients.get("redis")
        if client is None:  # created in the server's event loop, on first use
            client = clients.setdefault("redis", aioredis.Redis.from_url(str(settings.redis.url)))
        return Response(await client.get(key), media_type="application/json")

    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveApi:
    """``bench_app`` under uvicorn in a subprocess with the given RAGQA_* environment."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = {**os.environ, **env}
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LiveApi:
        command = [sys.executable, "-m", "uvicorn", "--factory", "bench.api_client:bench_app", "--host", "127.0.0.1",
                   "--port", str(self.port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
        self.process = subprocess.Popen(command, env=self.env)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the API server exited with {self.process.returncode}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("the API server did not become ready")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


class Http:
    """One keep-alive connection; ``http.client`` keeps the client's own overhead small."""

    def __init__(self, port: int, key: str | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.headers = {"content-type": "application/json"}
        if key:
            self.headers["authorization"] = f"Bearer {key}"

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.close()

    def post_raw(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        self.conn.request("POST", path, body=json.dumps(body).encode(), headers=self.headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def post_json(self, path: str, body: dict[str, Any], check_cached: bool = False) -> tuple[int, Any]:
        status, raw = self.post_raw(path, body)
        data = json.loads(raw)
        if check_cached and (status != 200 or not data.get("cached")):
            raise AssertionError(f"expected a cache hit, got {status}: {raw[:300]!r}")
        return status, data


def timed(call: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return out


def run_concurrent(port: int, path: str, body: bytes, concurrency: int, seconds: float) -> dict[str, Any]:
    """``concurrency`` threads, each on its own keep-alive connection, for ``seconds``."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    stop = time.monotonic() + seconds
    headers = {"content-type": "application/json"}

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    errors[i] += 1
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                continue
            latencies[i].append((time.perf_counter() - started) * 1000)
        conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    flat = [v for per in latencies for v in per]
    return {"concurrency": concurrency, "seconds": round(elapsed, 2), "requests": len(flat),
            "requests_per_s": round(len(flat) / elapsed, 1), "errors": sum(errors),
            "p50_ms": round(percentile(flat, 50), 3), "p95_ms": round(percentile(flat, 95), 3)}  # fmt: skip


def multipart_files(paths: list[Path]) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body of ``files`` parts, and its content type, for ``POST /documents``."""
    boundary = "ragqa-bench-boundary"
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{path.name}"\r\n'
                    "Content-Type: application/octet-stream\r\n\r\n".encode() + path.read_bytes() + b"\r\n"
                    for path in paths) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"
