"""A backup's Redis files are checked against its manifest before anything is restored: a file cut
short, a row of the wrong shape, an experiment no create would accept, or a restore under another name
stops the restore before the store or Redis is touched."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.errors import InvalidRequest
from state.backup import FOLDER, StateBackup

EXPERIMENT = {"name": "prompts", "collection": "docs", "created": 1.0, "stopped": None,
              "arms": [{"name": "a", "share": 50, "overrides": {}}, {"name": "b", "share": 50, "overrides": {}}]}
ROWS: dict[str, list[dict[str, Any]]] = {
        "feedback": [{"id": "1-0", "fields": {"answer_id": "a1", "created_at": "1.000", "answer": "{}"}}],
        "experiments": [{"experiment": EXPERIMENT, "arms": {"a": {"answers": "3"}, "b": {}}}],
        "audit": [{"id": "2-0", "fields": {"collection": "docs"}}, {"id": "3-0", "fields": {"collection": "docs"}}]}
COUNTS = {"feedback": 1, "experiments": 1, "audit": 2}


def written(tmp_path: Path, **changed: list[dict[str, Any]]) -> Path:
    (tmp_path / FOLDER).mkdir()
    for part, rows in (ROWS | changed).items():
        (tmp_path / FOLDER / f"{part}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def test_a_whole_backup_opens(tmp_path: Path) -> None:
    assert StateBackup.open(written(tmp_path), COUNTS, "docs", "docs").collection == "docs"


def test_a_file_cut_short_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="holds 1 rows, the manifest 2"):
        StateBackup.open(written(tmp_path, audit=ROWS["audit"][:1]), COUNTS, "docs", "docs")


def test_rows_of_the_wrong_shape_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="not a feedback row"):
        StateBackup.open(written(tmp_path, feedback=[{"id": 1, "fields": {}}]), COUNTS, "docs", "docs")


def test_an_experiment_no_create_would_accept_is_refused(tmp_path: Path) -> None:
    lopsided = {**EXPERIMENT, "arms": [{"name": "a", "share": 50}, {"name": "b", "share": 20}]}
    with pytest.raises(InvalidRequest, match="add up to 70"):
        StateBackup.open(written(tmp_path, experiments=[{"experiment": lopsided, "arms": {}}]), COUNTS, "docs", "docs")
    (tmp_path / FOLDER / "experiments.jsonl").write_text(json.dumps({"experiment": {}, "arms": {}}) + "\n")
    with pytest.raises(InvalidRequest, match="unreadable experiment"):
        StateBackup.open(tmp_path, COUNTS, "docs", "docs")


def test_a_restore_under_another_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="--without-redis"):
        StateBackup.open(written(tmp_path), COUNTS, "docs", "docs-old")
