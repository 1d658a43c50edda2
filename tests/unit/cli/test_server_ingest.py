"""`ragqa ingest --server`: what is never sent (a FIFO would block the upload; a type the server
does not parse would only fail there)."""

from __future__ import annotations

import os
from pathlib import Path

from cli.server_ingest import local_rejections
from ingest.sources import iter_sources


def test_only_regular_files_of_a_parsed_type_are_sent(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Plain text.")
    (folder / "design.psd").write_bytes(b"8BPS")
    os.mkfifo(folder / "pipe.txt")
    (folder / "zero.txt").symlink_to("/dev/zero")
    keep, rejected = local_rejections(list(iter_sources([folder])))
    assert [s.doc_id for s in keep] == ["a.txt"]
    reasons = {r["doc_id"]: (r["error_code"], r["reason"]) for r in rejected}
    assert reasons["design.psd"][0] == "unsupported_format"
    assert reasons["pipe.txt"][0] == "not_a_regular_file" and "named pipe" in reasons["pipe.txt"][1]
    assert reasons["zero.txt"][0] == "not_a_regular_file" and "character device" in reasons["zero.txt"][1]
