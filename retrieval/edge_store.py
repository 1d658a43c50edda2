"""The on-disk layout of an Edge store: one shard folder per collection, a manifest, a lock.

::

    <path>/
    ├── .lock                 held (flock) by the one process that has the store open
    ├── docs/                 a collection: an Edge shard ...
    │   ├── ragqa.json        ... plus our manifest (dense size); its presence marks a finished shard
    │   ├── edge_config.json, segments/, wal/
    └── .creating-docs-1a2b/  a shard being built; renamed into place when complete

The lock admits one holder at a time (a second ``acquire``, in any process, raises):

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp()) / "store"
    >>> lock = StoreLock.acquire(root)
    >>> try:
    ...     StoreLock.acquire(root)
    ... except IndexLocked:
    ...     print("locked")
    locked
    >>> lock.release()
    >>> StoreLock.acquire(root).release()
    >>> shutil.rmtree(root.parent)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from core.errors import CollectionMismatch, IndexLocked, IndexUnavailable, InvalidRequest

MANIFEST = "ragqa.json"
LOCK_FILE = ".lock"  # the name qdrant-client local mode locks too, so the two engines exclude each other
CREATING_PREFIX = ".creating-"
# Collection names become folder names: no separators, no dot-files, nothing a shell would mangle.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def locked_message(path: Path) -> str:
    return (
        f"the embedded Qdrant store at {path} is in use by another process (or another open index "
        "in this one); run one ragqa process at a time on it, or run a Qdrant server and set "
        "RAGQA_QDRANT__URL so several processes can share the index"
    )


@dataclass(frozen=True, slots=True)
class Manifest:
    """What ragqa needs to know about a collection without asking the engine."""

    dense_size: int
    format: int = 1


def collection_folder(root: Path, name: str) -> Path:
    if not _NAME.fullmatch(name):
        raise InvalidRequest(
            f"collection name {name!r} is not allowed: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit (at most 128 characters)"
        )
    return root / name


def read_manifest(folder: Path) -> Manifest | None:
    """The collection's manifest, or None when ``folder`` is not a finished ragqa collection."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        return Manifest(dense_size=int(data["dense_size"]), format=int(data.get("format", 1)))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CollectionMismatch(f"{folder / MANIFEST} is unreadable ({exc}); delete the folder") from exc


def write_manifest(folder: Path, manifest: Manifest) -> None:
    tmp = folder / f"{MANIFEST}.tmp"
    tmp.write_text(json.dumps(asdict(manifest)), encoding="utf-8")
    tmp.replace(folder / MANIFEST)


def list_collection_names(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if _NAME.fullmatch(p.name) and (p / MANIFEST).is_file())


def remove_unfinished(root: Path) -> None:
    """Drop shards whose creation was interrupted (we hold the lock, so nobody is building one)."""
    for folder in root.glob(f"{CREATING_PREFIX}*"):
        shutil.rmtree(folder, ignore_errors=True)


def disk_bytes(root: Path) -> int:
    # Allocated blocks, not apparent sizes: Edge pre-allocates 32 MiB WAL files that stay sparse.
    total = 0
    for path in root.rglob("*"):
        if path.is_file():
            st = path.stat()
            total += getattr(st, "st_blocks", 0) * 512 or st.st_size
    return total


class StoreLock:
    """An exclusive advisory lock on the store folder, held for the life of an index.

    Edge locks each shard's WAL on its own, but shards open lazily; this lock makes a second
    process fail at once, and keeps it from listing or dropping shards another process has open.
    """

    def __init__(self, handle: IO[str] | None) -> None:
        self._handle = handle

    @classmethod
    def acquire(cls, root: Path) -> StoreLock:
        try:
            root.mkdir(parents=True, exist_ok=True)
            handle = open(root / LOCK_FILE, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        except OSError as exc:
            raise IndexUnavailable(f"cannot open the embedded Qdrant store at {root}: {exc}") from exc
        if sys.platform == "win32":  # no flock: Edge's own WAL lock still refuses a second process
            return cls(handle)
        import fcntl

        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.close()
            raise IndexLocked(locked_message(root)) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"ragqa edge pid {os.getpid()}\n")
        handle.flush()
        return cls(handle)

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the descriptor drops the flock
            self._handle = None
