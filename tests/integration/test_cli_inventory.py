"""`ragqa ls` and `ragqa show` as a user runs them: real processes over an embedded store."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from ingest.parsing import parse_bytes
from tests.support.environment import REPO

NOTES = {"guides/brew.txt": "Boil the water first.\n\nThen pour it slowly over the grounds.\n",
         "zorblax.md": "# Zorblax\n\nA fictional coffee grinder from Reykjavik.\n"}


def ragqa(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAGQA_QDRANT__PATH": str(store), "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=600, cwd=REPO)  # fmt: skip


def test_ls_and_show(tmp_path: Path) -> None:
    root, store = tmp_path / "notes", tmp_path / "store"
    for name, text in NOTES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    assert ragqa(store, "ingest", str(root), "--tag", "team=cafe", "--json").returncode == 0

    listing = json.loads(ragqa(store, "ls", "--json").stdout)
    assert [d["doc_id"] for d in listing["documents"]] == sorted(NOTES)
    assert [d["source"] for d in listing["documents"]] == sorted(NOTES)  # relative, like the API shows
    assert json.loads(ragqa(store, "ls", "--tag", "team=tea", "--json").stdout)["documents"] == []
    human = ragqa(store, "ls")
    assert human.returncode == 0 and "guides/brew.txt" in human.stdout

    shown = ragqa(store, "show", "guides/brew.txt", "--text", "--json")
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    expected = parse_bytes((root / "guides/brew.txt").read_bytes(), "brew.txt").text
    assert detail["text"] == expected
    assert hashlib.sha256(detail["text"].encode()).hexdigest() == detail["content_hash"]
    assert detail["tags"] == {"team": "cafe"} and detail["chunks"] >= 1

    missing = ragqa(store, "show", "nope.txt", "--json")
    assert missing.returncode == 2 and json.loads(missing.stdout)["error"]["code"] == "not_found"
