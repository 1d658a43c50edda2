"""The `ragqa` command as a user runs it: a real process, a real store, real files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.documents import write_deep_html, write_docx, write_malformed, write_pdf, write_zip_bomb_docx

pytestmark = pytest.mark.slow


def ragqa(store: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAGQA_QDRANT__PATH": str(store), "HF_HUB_OFFLINE": "1", **extra_env}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=600, cwd=Path(__file__).resolve().parents[3])


def test_a_batch_with_ten_bad_files_reports_each_and_indexes_the_rest(tmp_path: Path, corpus_dir: Path) -> None:
    folder = tmp_path / "batch"
    bad = write_malformed(folder / "bad")
    good = [write_pdf(folder / "animals.pdf"), write_docx(folder / "echidna.docx")]
    (folder / "kangaroo.txt").write_bytes((corpus_dir / "set1" / "a1.txt").read_bytes())
    (folder / "kangaroo.htm").write_bytes((corpus_dir / "set1" / "a1.htm").read_bytes())
    store = tmp_path / "store"

    run = ragqa(store, "ingest", str(folder), "--json", "--tag", "team=zoo")

    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)
    assert report["failed"] == len(bad) == 10
    assert report["added"] == len(good) + 2
    reasons = {Path(f["doc_id"]).name: f for f in report["failures"]}
    assert set(reasons) == {p.name for p in bad}
    for failure in reasons.values():
        assert failure["reason"] and failure["error_code"] in {"parse_error", "unsupported_format"}
    assert "unsupported file type '.psd'" in reasons["design.psd"]["reason"]
    assert "broken symlink" in reasons["broken-link.txt"]["reason"]

    stats = json.loads(ragqa(store, "stats", "--json").stdout)
    assert stats["documents"] == 4
    assert stats["chunks"] == report["chunks_written"]

    deleted = ragqa(store, "delete", "--source", str(folder / "kangaroo.txt"), "--json")
    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(deleted.stdout)["deleted"]["kangaroo.txt"] > 0
    after = json.loads(ragqa(store, "stats", "--json").stdout)
    assert after["documents"] == 3


def test_errors_are_clear_and_exit_nonzero(tmp_path: Path) -> None:
    run = ragqa(tmp_path / "store", "ingest", str(tmp_path / "missing"), "--json")
    assert run.returncode == 2
    assert json.loads(run.stdout)["error"]["code"] == "not_found"
    run = ragqa(tmp_path / "store", "stats", "--collection", "nope", "--json")
    assert run.returncode == 2
    assert json.loads(run.stdout)["error"] == {"code": "not_found", "message": "collection 'nope' does not exist"}


def test_names_that_look_like_markup_are_printed_as_they_are(tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    files = {"[/b].txt": b"Wombats produce cube-shaped droppings.\n",  # the file b].txt in the folder [
             "[red]notes[/red].md": b"# Notes\n\nEchidnas lay eggs.\n",
             "[/i]scan.psd": b"8BPS\x00\x01"}
    for doc_id, data in files.items():
        (folder / doc_id).parent.mkdir(parents=True, exist_ok=True)
        (folder / doc_id).write_bytes(data)
    store = tmp_path / "store"

    run = ragqa(store, "ingest", str(folder))

    assert run.returncode == 1, run.stdout + run.stderr  # the .psd alone fails
    assert "Traceback" not in run.stderr, run.stderr
    assert "[/i]scan.psd" in run.stdout and "unsupported file type" in run.stdout
    assert json.loads(ragqa(store, "stats", "--json").stdout)["documents"] == 2
    deleted = ragqa(store, "delete", "[/b].txt")
    assert deleted.returncode == 0 and "deleted [/b].txt" in deleted.stdout, deleted.stdout + deleted.stderr


def test_hostile_files_fail_alone_and_fast_while_the_good_one_is_ingested(tmp_path: Path, corpus_dir: Path) -> None:
    folder = tmp_path / "mixed"
    write_zip_bomb_docx(folder / "bomb.docx", expanded_mb=1100)  # 1.1 MB that expands to 1.1 GB
    write_deep_html(folder / "deep.html", depth=100_000)
    (folder / "kangaroo.txt").write_bytes((corpus_dir / "set1" / "a1.txt").read_bytes())

    run = ragqa(tmp_path / "store", "ingest", str(folder), "--json")

    assert run.returncode == 1, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["added"] == 1 and report["failed"] == 2
    failures = {f["doc_id"]: f for f in report["failures"]}
    assert failures["bomb.docx"]["error_code"] == "document_too_large"
    assert "ingest.max_unzipped_bytes" in failures["bomb.docx"]["reason"]
    assert failures["deep.html"]["error_code"] == "parse_error"
    assert report["seconds"] < 30


def test_a_fifo_a_socket_and_hostile_symlinks_fail_alone(tmp_path: Path, corpus_dir: Path) -> None:
    """A FIFO once blocked the batch forever, a link to /dev/zero read gigabytes: each now fails with
    its reason, fast, and the good files (and a link that stays in the folder) are ingested."""
    import time

    from tests.support.hostile_files import hostile_folder

    folder = tmp_path / "cloned-repo"
    expected = hostile_folder(folder, corpus_dir)
    started = time.monotonic()
    # Through a parent of its own, whose waited-for descendants' peak RSS is the command's alone
    # (this test process has other children).
    measure = ("import resource, subprocess, sys; run = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
               "sys.stdout.write(run.stdout); sys.stderr.write(run.stderr);"
               "sys.stderr.write(f'\\nPEAK_KIB={resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\\n');"
               "sys.exit(run.returncode)")  # fmt: skip
    env = {**os.environ, "RAGQA_QDRANT__PATH": str(tmp_path / "store"), "HF_HUB_OFFLINE": "1"}
    run = subprocess.run([sys.executable, "-c", measure, sys.executable, "-m", "cli.main", "ingest", str(folder),
                          "--json"], capture_output=True, text=True, env=env, timeout=600,
                         cwd=Path(__file__).resolve().parents[3])  # fmt: skip
    took = time.monotonic() - started
    assert run.returncode == 1, run.stdout + run.stderr
    peak_kib = int(run.stderr.rsplit("PEAK_KIB=", 1)[1].split()[0])
    report = json.loads(run.stdout)
    failures = {f["doc_id"]: f for f in report["failures"]}
    bad = {doc_id: word for doc_id, word in expected.items() if word is not None}
    assert set(failures) == set(bad), failures
    for doc_id, word in bad.items():
        assert word in failures[doc_id]["reason"] and doc_id in failures[doc_id]["reason"], failures[doc_id]
    assert report["added"] == 3
    assert took < 30, took
    assert peak_kib < 2 * 2**20, peak_kib  # under 2 GB


def test_progress_says_all_parsed_when_a_file_fails(tmp_path: Path, corpus_dir: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "kangaroo.txt").write_bytes((corpus_dir / "set1" / "a1.txt").read_bytes())
    (folder / "empty.txt").write_text("   \n")  # fails at parsing: never "parsed"
    # A terminal's live display (FORCE_COLOR makes Rich draw every frame into the pipe).
    run = ragqa(tmp_path / "store", "ingest", str(folder), FORCE_COLOR="1", COLUMNS="160")
    assert run.returncode == 1, run.stdout + run.stderr
    frames = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", run.stdout)
    assert "files (all parsed)" in frames and "2/2" in frames, frames
    # Before the first file is parsed the chunk count is unknown, and says so (not a bar stuck at 0/0).
    assert "0/0" not in frames and "parsing the first files" in frames, frames


def test_tags_merge_rather_than_vanish(
        tmp_path: Path, corpus_dir: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "kangaroo.txt").write_bytes((corpus_dir / "set1" / "a1.txt").read_bytes())
    store = tmp_path / "store"

    def tags_and_outcome(*args: str) -> tuple[dict[str, str], dict[str, int]]:
        run = ragqa(store, "ingest", str(folder), "--json", *args)
        assert run.returncode == 0, run.stdout + run.stderr
        report = json.loads(run.stdout)
        listed = json.loads(ragqa(store, "ls", "--json").stdout)
        [doc] = listed["documents"]
        return doc["tags"], {k: report[k] for k in ("added", "updated", "unchanged")}

    assert tags_and_outcome("--tag", "team=zoo") == ({"team": "zoo"}, {"added": 1, "updated": 0, "unchanged": 0})
    # The same files again, without --tag: nothing changes (the tags were once silently stripped here).
    assert tags_and_outcome() == ({"team": "zoo"}, {"added": 0, "updated": 0, "unchanged": 1})
    # A changed file keeps its tags too.
    (folder / "kangaroo.txt").write_text((folder / "kangaroo.txt").read_text() + "\nA new closing line.\n")
    assert tags_and_outcome() == ({"team": "zoo"}, {"added": 0, "updated": 1, "unchanged": 0})
    assert tags_and_outcome("--tag", "year=2024")[0] == {"team": "zoo", "year": "2024"}  # merged
    assert tags_and_outcome("--tag", "team=marsupials", "--tag", "year=")[0] == {"team": "marsupials"}  # k= removes
    assert tags_and_outcome("--clear-tags") == ({}, {"added": 0, "updated": 1, "unchanged": 0})
    both = ragqa(store, "ingest", str(folder), "--tag", "a=b", "--clear-tags", "--json")
    assert both.returncode == 2 and "not both" in json.loads(both.stdout)["error"]["message"]


def test_sync_deletes_the_documents_whose_files_are_gone_and_nothing_else(tmp_path: Path, corpus_dir: Path) -> None:
    folder, other = tmp_path / "notes", tmp_path / "elsewhere"
    folder.mkdir()
    other.mkdir()
    for name in ("a1.txt", "a2.txt", "a3.txt"):
        (folder / name).write_bytes((corpus_dir / "set1" / name).read_bytes())
    (other / "a7.txt").write_bytes((corpus_dir / "set1" / "a7.txt").read_bytes())
    store = tmp_path / "store"
    assert ragqa(store, "ingest", str(folder), str(other), "--json").returncode == 0

    (folder / "a2.txt").unlink()  # deleted from the folder
    (folder / "a3.txt").write_text("   \n")  # now fails to parse: still there, so it stays indexed
    run = ragqa(store, "ingest", str(folder), "--sync", "--json")
    report = json.loads(run.stdout)
    assert list(report["removed"]) == ["a2.txt"] and report["removed"]["a2.txt"] > 0, report
    listed = {d["doc_id"] for d in json.loads(ragqa(store, "ls", "--json").stdout)["documents"]}
    assert listed == {"a1.txt", "a3.txt", "a7.txt"}  # a7 came from another folder: untouched

    again = json.loads(ragqa(store, "ingest", str(folder), "--glob", "*.md", "--sync", "--json").stdout)
    assert again["removed"] == {}  # files another --glob leaves out still exist: nothing is removed
    (folder / "a1.txt").unlink()
    plain = json.loads(ragqa(store, "ingest", str(folder), "--json").stdout)
    assert plain["removed"] == {}  # without --sync nothing is ever deleted
    assert "a1.txt" in {d["doc_id"] for d in json.loads(ragqa(store, "ls", "--json").stdout)["documents"]}
    refused = ragqa(store, "ingest", str(folder), "--sync", "--queue", "--json")
    assert refused.returncode == 2 and "--sync" in json.loads(refused.stdout)["error"]["message"]


def test_sync_makes_the_collection_equal_the_folder_and_a_dry_run_changes_nothing(
        tmp_path: Path, corpus_dir: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    for name in ("a1.txt", "a2.txt"):
        (folder / name).write_bytes((corpus_dir / "set1" / name).read_bytes())
    store = tmp_path / "store"
    assert ragqa(store, "sync", str(folder), "--json").returncode == 0

    (folder / "a2.txt").unlink()  # deleted
    (folder / "a1.txt").write_text((folder / "a1.txt").read_text() + "\nOne more line.\n")  # changed
    (folder / "a3.txt").write_bytes((corpus_dir / "set1" / "a3.txt").read_bytes())  # added
    plan = json.loads(ragqa(store, "sync", str(folder), "--dry-run", "--json").stdout)
    assert (plan["add"], plan["check"], plan["remove"]) == (["a3.txt"], ["a1.txt"], ["a2.txt"])
    listed = {d["doc_id"] for d in json.loads(ragqa(store, "ls", "--json").stdout)["documents"]}
    assert listed == {"a1.txt", "a2.txt"}  # the dry run changed nothing

    report = json.loads(ragqa(store, "sync", str(folder), "--json").stdout)
    assert (report["added"], report["updated"], list(report["removed"])) == (1, 1, ["a2.txt"])
    listed = {d["doc_id"] for d in json.loads(ragqa(store, "ls", "--json").stdout)["documents"]}
    assert listed == {"a1.txt", "a3.txt"}  # equal to the folder
