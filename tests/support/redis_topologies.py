"""Real Redis topologies on loopback ports for the tests: a three-master Redis Cluster, and a Sentinel
group (a master, a replica and a sentinel), each from Debian's ``redis-server`` in a folder of its own.

    with redis_cluster(tmp / "cluster") as cluster:     # cluster.url: redis+cluster://127.0.0.1:p1,.../
        ...
    with sentinel_group(tmp / "sentinel") as group:     # group.url: redis+sentinel://127.0.0.1:s1/<name>/0
        group.kill_master()                             # the replica takes over (returns the new port)

Everything runs as a child of the test process, binds 127.0.0.1 on free ports, keeps no data
(``--save ""``, no append-only file) and is stopped when the ``with`` block ends, however it ends.
Without ``redis-server`` the test is skipped, or fails in CI (``tests.support.environment.require``).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support.environment import require
from tests.support.services import free_port

START_TIMEOUT_S = 15.0
SENTINEL_MASTER = "ragqa-test"


def redis_binary() -> str:
    debian = Path("/usr/bin/redis-server")
    found = shutil.which("redis-server") or (str(debian) if debian.exists() else None)
    require(found is not None, "the redis-server binary (Debian's redis-server package) for Cluster and Sentinel")
    assert found is not None
    return found


def wait_for(what: str, check: Callable[[], bool], timeout_s: float = START_TIMEOUT_S) -> None:
    """Polls ``check`` until it holds; Redis errors count as "not yet"."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if check():
                return
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout_s:.0f} s")
        time.sleep(0.05)


def _client(port: int) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=1, socket_connect_timeout=1, decode_responses=True)


@dataclass
class _Processes:
    """The servers one topology started, stopped together (SIGTERM, then SIGKILL)."""

    folder: Path
    running: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, port: int, *args: str, keeps_data: bool = True) -> None:
        home = self.folder / str(port)
        home.mkdir(parents=True, exist_ok=True)
        log = (home / "server.log").open("ab")
        persistence = ["--save", "", "--appendonly", "no"] if keeps_data else []  # a sentinel keeps no data
        self.running[port] = subprocess.Popen(
            [redis_binary(), *args, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(home), *persistence],
            cwd=home, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        wait_for(f"redis-server on port {port} (log: {home / 'server.log'})", lambda: bool(_client(port).ping()))

    def kill(self, port: int) -> None:
        process = self.running.pop(port)
        process.kill()
        process.wait(timeout=10)

    def stop(self) -> None:
        for process in self.running.values():
            process.terminate()
        for process in self.running.values():
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self.running.clear()


@dataclass
class ClusterTopology:
    """Three masters sharing the 16384 slots, no replicas."""

    ports: list[int]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports) + "/"

    def node_of(self, key: str) -> int:
        """The port of the master that holds ``key``'s slot."""
        slot = int(_client(self.ports[0]).execute_command("CLUSTER KEYSLOT", key))
        for start, end, (_, port, *_) in ((s[0], s[1], s[2]) for s in _client(self.ports[0]).execute_command(
                "CLUSTER SLOTS")):
            if start <= slot <= end:
                return int(port)
        raise AssertionError(f"no node serves slot {slot}")


@contextmanager
def redis_cluster(folder: Path) -> Iterator[ClusterTopology]:
    """A three-master cluster on free ports (each with its cluster bus on another free port)."""
    processes = _Processes(folder)
    ports = [free_port() for _ in range(3)]
    # The bus port defaults to port + 10000, which may be taken or out of range: name a free one.
    bus_ports = [free_port() for _ in ports]
    try:
        for port, bus in zip(ports, bus_ports, strict=True):
            processes.start(port, "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
                            "--cluster-port", str(bus), "--cluster-node-timeout", "2000")
        # What `redis-cli --cluster create` does, without its fixed pauses: a distinct config epoch and a
        # third of the slots each, then every node meets every other (gossip alone takes seconds).
        bounds = [0, 5461, 10923, 16384]
        for i, port in enumerate(ports):
            _client(port).execute_command("CLUSTER SET-CONFIG-EPOCH", i + 1)
            _client(port).execute_command("CLUSTER ADDSLOTSRANGE", bounds[i], bounds[i + 1] - 1)
        for port in ports:
            for other, bus in zip(ports, bus_ports, strict=True):
                if other != port:
                    _client(port).execute_command("CLUSTER MEET", "127.0.0.1", other, bus)
        wait_for("the cluster to agree (cluster_state:ok on every node)", lambda: all(
            _client(p).cluster("INFO")["cluster_state"] == "ok"
            and len(_client(p).execute_command("CLUSTER SLOTS")) == 3 for p in ports))
        yield ClusterTopology(ports)
    finally:
        processes.stop()


@dataclass
class SentinelTopology:
    """A master, one replica and one sentinel watching them under ``SENTINEL_MASTER``."""

    processes: _Processes
    data_ports: list[int]
    sentinel_port: int
    name: str = SENTINEL_MASTER

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{self.name}/0"

    def master_port(self) -> int:
        _, port = _client(self.sentinel_port).execute_command("SENTINEL GET-MASTER-ADDR-BY-NAME", self.name)
        return int(port)

    def kill_master(self, timeout_s: float = START_TIMEOUT_S) -> int:
        """Kills the master (SIGKILL: a crash, not a handover); returns the port of the replica the sentinel
        promoted, once it is master and the sentinel names it."""
        old = self.master_port()
        self.processes.kill(old)
        new = next(port for port in self.data_ports if port != old)
        wait_for("the sentinel to promote the replica", lambda: self.master_port() == new
                 and _client(new).info("replication")["role"] == "master", timeout_s)
        return new


@contextmanager
def sentinel_group(folder: Path) -> Iterator[SentinelTopology]:
    """A master with one replica and a sentinel that fails over within about a second of a crash."""
    processes = _Processes(folder)
    master, replica, sentinel = free_port(), free_port(), free_port()
    try:
        # A master waits 5 s for more replicas before a diskless full sync by default: start it now.
        processes.start(master, "--repl-diskless-sync-delay", "0")
        processes.start(replica, "--replicaof", "127.0.0.1", str(master), "--repl-diskless-sync-delay", "0")
        wait_for("the replica to sync", lambda: _client(replica).info("replication")["master_link_status"] == "up")
        # Up is not yet streaming: the master sends writes once the replica has acknowledged the snapshot, and a
        # master killed before that takes them along. Wait for a write to arrive.
        _client(master).set("redis-topologies:streaming", "1")
        wait_for("the replica to receive writes", lambda: _client(replica).get("redis-topologies:streaming") == "1")
        _client(master).delete("redis-topologies:streaming")
        conf = folder / "sentinel.conf"  # a sentinel rewrites its configuration file: it must be its own
        conf.write_text(
            f"sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {master} 1\n"
            f"sentinel down-after-milliseconds {SENTINEL_MASTER} 400\n"
            f"sentinel failover-timeout {SENTINEL_MASTER} 2000\n",
            encoding="utf-8",
        )
        processes.start(sentinel, str(conf), "--sentinel", keeps_data=False)
        # The sentinel learns of the replica from the master's INFO; until then it has nobody to promote.
        wait_for("the sentinel to see the replica", lambda: any(
            int(r["port"]) == replica and r["flags"] == "slave"
            for r in _client(sentinel).sentinel_slaves(SENTINEL_MASTER)))
        yield SentinelTopology(processes, [master, replica], sentinel)
    finally:
        processes.stop()
