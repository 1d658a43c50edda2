"""Uploaded files: safe names and a spool folder per upload, where they wait for their job.

A client's filename is only a hint: it is reduced to a plain base name (no folders, no
``..``, no control or shell characters, no hidden or reserved names) and made unique within
the upload; files are created exclusively in a fresh folder, so nothing is ever overwritten.

    >>> sanitize_filename("../../etc/passwd")
    'passwd'
    >>> sanitize_filename("C:\\\\Users\\\\me\\\\Report (final).PDF")
    'Report_final_.PDF'
    >>> unique_names(["a.txt", "A.txt", "a.txt"])
    ['a.txt', 'A-2.txt', 'a-3.txt']
"""

from __future__ import annotations

import re
import shutil
import unicodedata
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from core.errors import PayloadTooLarge

MAX_NAME_CHARS = 150
_UNSAFE = re.compile(r"[^\w.\-]+")
_REPEATS = re.compile(r"([._-])\1+")
# Names Windows reserves whatever the extension; harmless here, but files travel.
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
_COPY_CHUNK = 1024 * 1024


def sanitize_filename(name: str | None) -> str:
    """A safe base name for ``name``: letters, digits, ``_ . -``; the extension kept when cut."""
    base = unicodedata.normalize("NFKC", name or "")
    base = base.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in base)
    base = _REPEATS.sub(r"\1", _UNSAFE.sub("_", base.strip()))
    base = base.strip("._- ")
    if not base:
        return "upload"
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    if stem.lower() in _RESERVED:
        stem = f"_{stem}"
    ext = ext[:16]
    stem = stem[: MAX_NAME_CHARS - len(ext) - 1] or "upload"
    return f"{stem}.{ext}" if ext else stem


def unique_names(names: Sequence[str]) -> list[str]:
    """Suffixes ``-2``, ``-3``... so no two names of one upload collide (case-insensitively)."""
    seen: set[str] = set()
    out = []
    for position, name in enumerate(names, start=1):
        candidate = name
        if candidate.lower() in seen:
            stem, dot, ext = name.rpartition(".")
            stem, ext = (stem, f".{ext}") if dot and stem else (name, "")
            candidate = f"{stem}-{position}{ext}"
            while candidate.lower() in seen:
                candidate = f"{stem}-{position}-{uuid.uuid4().hex[:6]}{ext}"
        seen.add(candidate.lower())
        out.append(candidate)
    return out


class UploadSpool:
    """Folders under ``root`` holding uploaded files until their job has run.

    Example::

        folder = spool.new_folder()
        path = spool.save(folder, "report.pdf", upload.file, limit=50 * 2**20)
        ...  # the job reads `path`; then
        spool.remove(folder)
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def new_folder(self) -> Path:
        folder = self.root / uuid.uuid4().hex
        folder.mkdir(parents=True, exist_ok=False)
        return folder

    def save(self, folder: Path, name: str, data: BinaryIO, limit: int) -> Path:
        """Copies ``data`` to ``folder/name``, created exclusively ('x'): never an overwrite."""
        path = folder / name
        if path.resolve().parent != folder.resolve():
            raise ValueError(f"unsafe upload name {name!r}")  # sanitize_filename makes this unreachable
        written = 0
        with path.open("xb") as out:
            while chunk := data.read(_COPY_CHUNK):
                written += len(chunk)
                if written > limit:
                    raise PayloadTooLarge(f"{name}: larger than the {limit}-byte limit for one file")
                out.write(chunk)
        return path

    def remove(self, folder: Path) -> None:
        if folder.resolve().parent == self.root.resolve():
            shutil.rmtree(folder, ignore_errors=True)
