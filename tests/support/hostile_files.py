"""A folder as a cloned repository or an unpacked archive can leave it: good files beside a FIFO,
a socket, a symlink to a device and a symlink out of the folder (plus one that stays inside,
which is read).

    expected = hostile_folder(tmp_path / "batch", corpus_dir)   # {doc_id: reason or None}
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

GOOD = {"kangaroo.txt": "set1/a1.txt", "otter.txt": "set1/a7.txt"}
# doc_id -> a word the failure's reason must hold (None: ingested).
EXPECTED: dict[str, str | None] = {
    "kangaroo.txt": None, "otter.txt": None, "linked-kangaroo.txt": None,
    "pipe.txt": "named pipe", "socket.txt": "socket", "zero.txt": "character device",
    "passwd.txt": "leads out of the folder",
}  # fmt: skip


def hostile_folder(folder: Path, corpus_dir: Path) -> dict[str, str | None]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in GOOD.items():
        (folder / name).write_bytes((corpus_dir / source).read_bytes())
    (folder / "linked-kangaroo.txt").symlink_to("kangaroo.txt")  # inside the folder: read
    os.mkfifo(folder / "pipe.txt")  # open() on it would block until a writer comes: none ever does
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(folder / "socket.txt"))  # the file stays after the socket closes
    (folder / "zero.txt").symlink_to("/dev/zero")  # "0 bytes" to stat, endless to read()
    (folder / "passwd.txt").symlink_to("/etc/passwd")  # a regular file, but out of the folder
    return dict(EXPECTED)
