"""An API server in a process of its own, over a small corpus ingested into its own store: what a
replica is, for tests that need two of them (experiments' assignment, shared Redis state).

    with ApiProcess(env, corpus, "harbour", tmp / "a") as a, ApiProcess(env, corpus, "harbour", tmp / "b") as b:
        httpx.post(f"{a.url}/ask", json=...)

Run as ``python -m tests.support.api_process PORT CORPUS COLLECTION`` with its settings in ``RAGQA_*``
variables: it ingests ``CORPUS`` into ``COLLECTION`` and serves on 127.0.0.1:PORT until SIGTERM.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.support.environment import REPO
from tests.support.services import free_port


class ApiProcess:
    """`python -m tests.support.api_process` started, waited for (``/healthz``) and stopped."""

    def __init__(self, env: dict[str, str], corpus: Path, collection: str, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = home / "api.log"
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAGQA_QDRANT__PATH": str(home / "qdrant"),
                    "RAGQA_API__UPLOAD_DIR": str(home / "uploads"), "RAGQA_LOG_LEVEL": "WARNING", **env}  # fmt: skip
        self.args = [sys.executable, "-m", "tests.support.api_process", str(self.port), str(corpus), collection]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ApiProcess:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT, env=self.env, cwd=REPO)
        return self

    def wait(self, timeout_s: float = 120) -> ApiProcess:
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while True:
            failed = self.process.poll() is not None or time.monotonic() > deadline
            assert not failed, self.log.read_text(errors="replace")[-3000:]
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> ApiProcess:
        return self.start().wait()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(port: int, corpus: Path, collection: str) -> None:
    import uvicorn

    from api.app import create_app
    from bootstrap.components import Components
    from core.settings import Settings
    from ingest.sources import iter_sources

    settings = Settings()
    with Components(settings) as parts:
        parts.pipeline.ingest(list(iter_sources([corpus])), collection)
        uvicorn.run(create_app(settings, parts), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
