"""Reading files to ingest: regular files only, symlinks inside their folder only, bytes capped."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from core.errors import DocumentTooLarge, NotARegularFile, ParseError
from ingest.files import check_file, read_file


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.txt").write_text("Plain text.")
    return root


def test_a_regular_file_is_read(folder: Path) -> None:
    assert read_file(folder / "a.txt", 100, folder) == b"Plain text."


def test_a_fifo_fails_at_once_with_its_kind(folder: Path) -> None:
    os.mkfifo(folder / "pipe.txt")
    started = time.monotonic()
    with pytest.raises(NotARegularFile, match="named pipe"):
        read_file(folder / "pipe.txt", 100, folder)
    assert time.monotonic() - started < 1


def test_a_link_to_a_device_fails_without_reading_it(folder: Path) -> None:
    (folder / "zero.txt").symlink_to("/dev/zero")
    with pytest.raises(NotARegularFile, match="character device"):
        read_file(folder / "zero.txt", 100, folder)


def test_a_link_out_of_the_folder_fails_and_one_inside_is_read(folder: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("outside")
    (folder / "out.txt").symlink_to(tmp_path / "secret.txt")
    (folder / "in.txt").symlink_to("a.txt")
    with pytest.raises(NotARegularFile, match="leads out of the folder"):
        read_file(folder / "out.txt", 100, folder)
    assert read_file(folder / "in.txt", 100, folder) == b"Plain text."
    with pytest.raises(NotARegularFile, match="follow_symlinks is off"):
        read_file(folder / "in.txt", 100, folder, follow_symlinks=False)
    # A file given on its own (no folder) may be a link anywhere, to a regular file.
    assert read_file(folder / "out.txt", 100) == b"outside"


def test_a_broken_link_and_a_directory_are_named(folder: Path) -> None:
    (folder / "gone.txt").symlink_to("nowhere.txt")
    with pytest.raises(ParseError, match="broken symlink"):
        check_file(folder / "gone.txt", "gone.txt", folder)
    (folder / "dir.txt").mkdir()
    with pytest.raises(NotARegularFile, match="directory"):
        check_file(folder / "dir.txt", "dir.txt", folder)


def test_the_byte_cap_holds_whatever_the_size_says(folder: Path) -> None:
    (folder / "big.txt").write_bytes(b"x" * 1000)
    with pytest.raises(DocumentTooLarge, match="1000 bytes"):
        read_file(folder / "big.txt", 999, folder)
    assert len(read_file(folder / "big.txt", 1000, folder)) == 1000
