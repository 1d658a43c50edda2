"""The on-disk layout of an Edge store: one shard folder per collection, a manifest, a lock.

::

    <path>/
    ├── .lock                 held (flock) by the one process that has the store open
    ├── .aliases.json         names standing for other collections: {"docs": "docs__v2"} (retrieval.aliases)
    ├── docs/                 a collection: an Edge shard ...
    │   ├── ragqa.json        ... plus our manifest (dense size, embedder); its presence marks a finished shard
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
import shutil
import sys
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from core.errors import CollectionMismatch, IndexLocked, IndexUnavailable, InvalidRequest, RagqaError
from core.names import check_collection, is_collection_name
from retrieval.embedder_guard import check_embedder

MANIFEST = "ragqa.json"
LOCK_FILE = ".lock"  # the name qdrant-client local mode locks too, so the two engines exclude each other
CREATING_PREFIX = ".creating-"
# Edge reports engine failures as plain `Exception`; these messages mean the caller sent bad input.
_COPY_BLOCK = 1 << 14  # the grain of holes in a copy: small, so a file with a few bytes stays a few blocks
_INPUT_ERRORS = ("dimension error", "Not existing vector name", "Wrong input", "Bad input", "Bad request")


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
    embedder: str | None = None  # ``Embedder.identity`` of its writer; None in collections made before


class Manifests:
    """The manifests of a store's collections, each read from disk once (one process holds the store).

    Example::

        manifests = Manifests(root)
        if not manifests.compatible("docs", 384, "all-MiniLM-L6-v2/onnx-int8"):
            ...  # no such collection: create it, then manifests.put("docs", manifest)
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._known: dict[str, Manifest] = {}

    def get(self, name: str) -> Manifest | None:
        manifest = self._known.get(name)
        if manifest is None:
            manifest = read_manifest(collection_folder(self._root, name))
            if manifest is not None:
                self._known[name] = manifest  # absence is not cached: the collection may be made later
        return manifest

    def put(self, name: str, manifest: Manifest) -> None:
        self._known[name] = manifest

    def forget(self, name: str) -> None:
        self._known.pop(name, None)

    def compatible(self, name: str, dense_size: int, embedder: str | None) -> bool:
        """True when the collection exists and ``embedder`` may write to it; False when it does not exist.

        Raises ``CollectionMismatch`` for a collection of another vector size or another recorded
        embedder, and for a folder of that name that is not a ragqa collection.
        """
        manifest = self.get(name)
        if manifest is None:
            if collection_folder(self._root, name).exists():
                raise CollectionMismatch(
                    f"{self._root / name} exists but is not a ragqa collection: use another "
                    "--collection, or remove that folder"
                )
            return False
        if manifest.dense_size != dense_size:
            raise CollectionMismatch(
                f"collection {name!r} holds {manifest.dense_size}-dimensional vectors but the embedder "
                f"makes {dense_size}: use another --collection, or delete this one"
            )
        check_embedder(name, manifest.embedder, embedder)
        return True


def collection_folder(root: Path, name: str) -> Path:
    return root / check_collection(name)  # a folder name: the shared rule keeps it one


def read_manifest(folder: Path) -> Manifest | None:
    """The collection's manifest, or None when ``folder`` is not a finished ragqa collection."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        embedder = data.get("embedder")
        return Manifest(dense_size=int(data["dense_size"]), format=int(data.get("format", 1)),
                        embedder=str(embedder) if embedder is not None else None)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CollectionMismatch(f"{folder / MANIFEST} is unreadable ({exc}); delete the folder") from exc


def write_manifest(folder: Path, manifest: Manifest) -> None:
    tmp = folder / f"{MANIFEST}.tmp"
    tmp.write_text(json.dumps(asdict(manifest)), encoding="utf-8")
    tmp.replace(folder / MANIFEST)


def build_collection(root: Path, name: str, manifest: Manifest, make_shard: Callable[[Path], None]) -> None:
    """Make collection ``name``: ``make_shard(folder)`` builds the shard under a temporary name, then the
    manifest is written and the folder renamed into place, so a crash never leaves a half-made
    collection that looks finished (``remove_unfinished`` sweeps the leftovers)."""
    tmp = root / f"{CREATING_PREFIX}{name}-{uuid.uuid4().hex[:8]}"
    try:
        make_shard(tmp)
        write_manifest(tmp, manifest)
        tmp.rename(collection_folder(root, name))
    except OSError as exc:
        raise IndexUnavailable(f"cannot create collection {name!r} in {root}: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def remove_collection(folder: Path) -> None:
    if folder.exists():
        # The manifest goes first: an interrupted removal leaves a folder nobody treats as a collection.
        (folder / MANIFEST).unlink(missing_ok=True)
        shutil.rmtree(folder)


def engine_error(exc: Exception, what: str, where: Path) -> RagqaError:
    """An Edge engine failure as one of ours."""
    text = str(exc)
    if "WouldBlock" in text:  # another process (or handle) holds the shard's WAL lock
        return IndexLocked(locked_message(where))
    if isinstance(exc, ValueError) or any(marker in text for marker in _INPUT_ERRORS):
        return InvalidRequest(f"Qdrant Edge rejected the request to {what}: {text}")
    return IndexUnavailable(f"Qdrant Edge failed to {what} ({where}): {text}")


def list_collection_names(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if is_collection_name(p.name) and (p / MANIFEST).is_file())


def remove_unfinished(root: Path) -> None:
    """Drop shards whose creation was interrupted (we hold the lock, so nobody is building one)."""
    for folder in root.glob(f"{CREATING_PREFIX}*"):
        shutil.rmtree(folder, ignore_errors=True)


def copy_sparse(source: Path, target: Path) -> None:
    """Copy the folder ``source`` to ``target`` (which must not exist), keeping holes as holes: Edge
    pre-allocates 32 MiB files that stay mostly unwritten, so a plain copy of a tiny collection
    would weigh hundreds of MiB."""
    def copy_file(src: str, dst: str) -> None:
        with open(src, "rb") as reader, open(dst, "wb") as writer:
            while block := reader.read(_COPY_BLOCK):
                if block.count(0) == len(block):
                    writer.seek(len(block), os.SEEK_CUR)  # a hole in the copy too
                else:
                    writer.write(block)
            writer.truncate()  # the size, where the file ends in a hole
        shutil.copystat(src, dst)

    shutil.copytree(source, target, copy_function=copy_file)


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
