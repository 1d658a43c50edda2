"""`ragqa --version` and `ragqa config show`, run as a user runs them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def ragqa(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **env}, timeout=120)


def test_version_prints_the_installed_version_even_with_bad_settings() -> None:
    run = ragqa("--version", RAGQA_API__PORT="eighty")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"ragqa {metadata.version('ragqa')}"


def test_config_show_prints_the_effective_settings_with_secrets_masked() -> None:
    env = {"RAGQA_LLM__API_KEY": "sk-very-secret", "RAGQA_REDIS__URL": "redis://:hunter2@127.0.0.1:6379/5",
           "RAGQA_RETRIEVAL__TOP_K": "9"}
    run = ragqa("config", "show", "--json", **env)
    assert run.returncode == 0, run.stderr
    values = json.loads(run.stdout)
    assert values["RAGQA_RETRIEVAL__TOP_K"] == 9
    assert values["RAGQA_LLM__API_KEY"] == "**********"
    assert values["RAGQA_REDIS__URL"] == "redis://:**********@127.0.0.1:6379/5"
    plain = ragqa("config", "show", **env)
    assert plain.returncode == 0, plain.stderr
    assert "RAGQA_RETRIEVAL__TOP_K=9" in plain.stdout.splitlines()
    for secret in ("sk-very-secret", "hunter2"):
        assert secret not in plain.stdout + run.stdout


def test_a_list_setting_that_is_not_json_is_one_line_naming_its_variable() -> None:
    run = ragqa("config", "show", RAGQA_WIDGET__TOKENS="notjson")
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert "RAGQA_WIDGET__TOKENS: not valid JSON" in run.stderr


def test_a_bad_collection_name_fails_before_anything_loads() -> None:
    for command in (("ingest", "README.md"), ("ask", "anything?"), ("stats",)):
        run = ragqa(*command, "--collection", "bad name!")
        assert run.returncode == 2, (command, run.stdout, run.stderr)
        words = " ".join(re.sub(r"[│╭╮╰╯─]", " ", run.stderr).split())  # Rich boxes and wraps the message
        assert "'bad name!' is not a collection name" in words, command


def test_help_shows_no_value_type_on_flags_and_keeps_brackets() -> None:
    run = ragqa("ask", "--help", COLUMNS="100")
    assert run.returncode == 0, run.stderr
    assert "<bool>" not in run.stdout and "<str>" in run.stdout  # --json is a flag; --collection takes a value
    assert "citing the sources as [n]" in run.stdout


def test_serve_refuses_a_public_address_without_keys_and_says_why(tmp_path: Path) -> None:
    env = {"RAGQA_QDRANT__PATH": str(tmp_path / "qdrant"), "RAGQA_API__API_KEYS_SHA256": "[]"}
    run = ragqa("serve", "--host", "0.0.0.0", "--port", "1", **env)
    assert run.returncode == 2, run.stdout + run.stderr
    said = " ".join(run.stderr.split())
    assert "configuration_error" in said and "no API keys" in said and "--insecure" in said
    assert not (tmp_path / "qdrant").exists()  # refused before anything was opened


def test_a_bad_log_level_is_a_one_line_error_and_any_case_works() -> None:
    bad = ragqa("config", "show", RAGQA_LOG_LEVEL="LOUD")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "RAGQA_LOG_LEVEL" in bad.stderr and "'LOUD'" in bad.stderr
    fine = ragqa("config", "show", "--json", RAGQA_LOG_LEVEL="debug")
    assert fine.returncode == 0, fine.stderr
    assert json.loads(fine.stdout)["RAGQA_LOG_LEVEL"] == "DEBUG"
