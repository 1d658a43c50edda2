"""Reading a file to ingest: regular files only, symlinks only inside their folder, bytes capped.

A cloned repository or an unpacked archive can carry a FIFO (``open`` blocks forever), a link to
``/dev/zero`` (reads without end: its size says 0) or a link to ``/etc/shadow``. So:

- ``check_file`` looks at a path without opening it (``lstat``): what it is, and where a symlink
  leads. A FIFO, a socket, a device, a directory, or a symlink out of ``root`` (or any symlink, with
  ``follow_symlinks`` off) raises ``NotARegularFile`` naming what it is.
- ``read_file`` checks again on the open descriptor (the path may have changed since), opened
  non-blocking so that even a FIFO swapped in after the check cannot hang, and reads at most
  ``max_bytes`` (one more says it is too large, whatever its size claimed).

Example::

    data = read_file(Path("docs/a.md"), max_bytes=50 * 2**20, root=Path("docs"))
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from core.errors import DocumentTooLarge, NotARegularFile, ParseError

_READ_BLOCK = 1 << 20
_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISDIR, "a directory"))  # fmt: skip


def describe_mode(mode: int) -> str:
    """What a file of this ``st_mode`` is, in words ("a named pipe (FIFO)", "a regular file")."""
    return next((kind for test, kind in _KINDS if test(mode)), "a regular file" if stat.S_ISREG(mode) else
                "not a regular file")  # fmt: skip


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def check_file(path: Path, name: str, root: Path | None = None, follow_symlinks: bool = True) -> None:
    """Raises ``NotARegularFile`` (or ``ParseError`` for a missing file) unless ``path`` is a regular
    file, or a symlink allowed to be followed to one inside ``root``. Opens nothing."""
    try:
        link = os.lstat(path)
    except FileNotFoundError as exc:
        raise ParseError(f"{name}: file not found") from exc
    except OSError as exc:
        raise ParseError(f"{name}: cannot read ({exc.strerror or exc})") from exc
    if stat.S_ISLNK(link.st_mode):
        if not follow_symlinks:
            raise NotARegularFile(f"{name}: is a symlink, and ingest.follow_symlinks is off")
        target = os.path.realpath(path)
        try:
            mode = os.stat(target).st_mode
        except OSError as exc:
            raise ParseError(f"{name}: a broken symlink (to {target})") from exc
        if not stat.S_ISREG(mode):
            raise NotARegularFile(f"{name}: is a symlink to {describe_mode(mode)} ({target}); only "
                                  "regular files are read")  # fmt: skip
        if root is not None and not _inside(target, os.path.realpath(root)):
            raise NotARegularFile(f"{name}: is a symlink that leads out of the folder being ingested "
                                  f"(to {target}); only links inside it are read")  # fmt: skip
        return
    if not stat.S_ISREG(link.st_mode):
        raise NotARegularFile(f"{name}: is {describe_mode(link.st_mode)}; only regular files are read")


def read_file(path: Path, max_bytes: int, root: Path | None = None, follow_symlinks: bool = True,
              name: str | None = None) -> bytes:
    """The file's bytes, under the checks of ``check_file``, repeated on the opened descriptor."""
    name = name or path.name
    check_file(path, name, root, follow_symlinks)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ParseError(f"{name}: cannot open ({exc.strerror or exc})") from exc
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):  # replaced between the check and the open
            raise NotARegularFile(f"{name}: is {describe_mode(opened.st_mode)}; only regular files are read")
        if opened.st_size > max_bytes:
            raise DocumentTooLarge(f"{name}: {opened.st_size} bytes is over the {max_bytes}-byte limit "
                                   "(ingest.max_file_bytes)")  # fmt: skip
        blocks: list[bytes] = []
        total = 0
        while total <= max_bytes:
            block = os.read(fd, min(_READ_BLOCK, max_bytes + 1 - total))
            if not block:
                break
            blocks.append(block)
            total += len(block)
        if total > max_bytes:
            raise DocumentTooLarge(f"{name}: more than {max_bytes} bytes (ingest.max_file_bytes); it grew "
                                   "while being read")  # fmt: skip
        return b"".join(blocks)
    except OSError as exc:
        raise ParseError(f"{name}: cannot read ({exc.strerror or exc})") from exc
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class FileToRead:
    """A file to read where it is parsed: the sandbox's child process reads it, under ``read_file``'s checks."""

    path: Path
    name: str
    max_bytes: int
    root: Path | None = None
    follow_symlinks: bool = True

    def read(self) -> bytes:
        return read_file(self.path, self.max_bytes, self.root, self.follow_symlinks, self.name)
