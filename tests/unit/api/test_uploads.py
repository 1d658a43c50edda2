"""Upload names: no path traversal, no hidden or reserved names, no overwriting."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from api.uploads import UploadSpool, sanitize_filename, unique_names
from core.errors import PayloadTooLarge


@pytest.mark.parametrize(("raw", "expected"), [
    ("report.pdf", "report.pdf"),
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
    ("/abs/path/notes.md", "notes.md"),
    ("..", "upload"),
    ("", "upload"),
    (None, "upload"),
    (".bashrc", "bashrc"),
    ("...hidden.txt", "hidden.txt"),
    ("a b\tc\n.txt", "a_b_c_.txt"),
    ("rm -rf $(x);.txt", "rm_-rf_x_.txt"),
    ("nul\x00byte.txt", "nul_byte.txt"),
    ("CON.txt", "_CON.txt"),
    ("café.md", "café.md"),
    ("trailing.dots...", "trailing.dots"),
])  # fmt: skip
def test_sanitize_filename(raw: str | None, expected: str) -> None:
    assert sanitize_filename(raw) == expected


def test_long_names_keep_their_extension() -> None:
    name = sanitize_filename("x" * 500 + ".docx")
    assert name.endswith(".docx")
    assert len(name) <= 150


def test_sanitized_names_never_leave_the_folder(tmp_path: Path) -> None:
    for raw in ("../a", "..\\b", "/etc/c", "d/../../e", "....//f"):
        name = sanitize_filename(raw)
        assert "/" not in name and "\\" not in name and not name.startswith(".")
        assert (tmp_path / name).resolve().parent == tmp_path.resolve()


def test_unique_names_suffix_duplicates_case_insensitively() -> None:
    assert unique_names(["a.txt", "b.txt"]) == ["a.txt", "b.txt"]
    assert unique_names(["a.txt", "A.TXT", "a.txt"]) == ["a.txt", "A-2.TXT", "a-3.txt"]
    assert unique_names(["README", "readme"]) == ["README", "readme-2"]
    names = unique_names(["a.txt", "a-2.txt", "a.txt"])
    assert len({n.lower() for n in names}) == 3


def test_spool_never_overwrites(tmp_path: Path) -> None:
    spool = UploadSpool(tmp_path)
    folder = spool.new_folder()
    path = spool.save(folder, "a.txt", io.BytesIO(b"first"), limit=100)
    assert path.read_bytes() == b"first"
    with pytest.raises(FileExistsError):
        spool.save(folder, "a.txt", io.BytesIO(b"second"), limit=100)
    assert path.read_bytes() == b"first"
    assert spool.new_folder() != folder


def test_spool_enforces_the_file_limit(tmp_path: Path) -> None:
    spool = UploadSpool(tmp_path)
    with pytest.raises(PayloadTooLarge):
        spool.save(spool.new_folder(), "big.txt", io.BytesIO(b"x" * 101), limit=100)


def test_spool_removes_only_its_own_folders(tmp_path: Path) -> None:
    spool = UploadSpool(tmp_path / "spool")
    folder = spool.new_folder()
    outside = tmp_path / "keep"
    outside.mkdir()
    spool.remove(outside)
    spool.remove(folder)
    assert outside.exists() and not folder.exists()
