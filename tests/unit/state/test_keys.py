"""The keyspace: every key's exact name (data already in Redis must still be found), one owner, and the
hash tags that keep each job's keys in one Redis Cluster slot."""

from __future__ import annotations

import re

import pytest

from core.settings import RedisSettings
from state import keys as keys_module
from state.keys import Keyspace
from tests.support.environment import REPO

KEYS = Keyspace("p:")


@pytest.mark.parametrize(("key", "expected"), [
    (KEYS.cached_answer("fp"), "p:ans:fp"),
    (KEYS.citations("docs", "a/b.txt"), "p:cite:docs:a/b.txt"),
    (KEYS.answer_record("a1"), "p:answer:a1"),
    (KEYS.semantic("scope", "v3"), "p:sem:scope:v3"),
    (KEYS.rate_limit("widget:t1:127.0.0.1"), "p:rl:widget:t1:127.0.0.1"),
    (KEYS.feedback, "p:feedback"),
    (KEYS.job("j1"), "p:job:{j1}"),
    (KEYS.job_docs("j1"), "p:job:{j1}:docs"),
    (KEYS.job_open("j1"), "p:job:{j1}:open"),
    (KEYS.job_deliveries("j1"), "p:job:{j1}:deliveries"),
    (KEYS.job_solo("j1"), "p:job:{j1}:solo"),
    (KEYS.job_active("j1"), "p:job:{j1}:active"),
    (KEYS.job_lease("j1", "a/b.txt"), "p:job:{j1}:lease:a/b.txt"),
    (KEYS.legacy_job("j1"), "p:job:j1"),  # jobs recorded before the tags: still read
    (KEYS.legacy_job_docs("j1"), "p:job:j1:docs"),
    (KEYS.jobs, "p:jobs"),
    (KEYS.open_jobs, "p:jobs:open"),
    (KEYS.consumers("ragqa.interactive"), "p:consumers:ragqa.interactive"),
    (KEYS.runner("owner-1"), "p:runner:owner-1"),
])  # fmt: skip
def test_every_key_keeps_its_name(key: str, expected: str) -> None:
    assert key == expected


def hashed_part(key: str) -> str:
    """What Redis Cluster hashes: the first non-empty ``{...}``, else the whole key (the cluster spec's rule)."""
    start = key.find("{")
    end = key.find("}", start + 1)
    return key[start + 1:end] if start >= 0 and end > start + 1 else key


def test_a_jobs_keys_share_one_slot_and_jobs_spread() -> None:
    for job_id in ("j1", "a{b", "x}y"):
        keys = (KEYS.job(job_id), KEYS.job_docs(job_id), KEYS.job_open(job_id), KEYS.job_active(job_id),
                KEYS.job_deliveries(job_id), KEYS.job_solo(job_id), KEYS.job_lease(job_id, "{odd}/doc.txt"))
        assert len({hashed_part(k) for k in keys}) == 1, keys
    assert hashed_part(KEYS.job("j1")) != hashed_part(KEYS.job("j2"))  # one slot per job, not one for all


def test_a_prefix_with_braces_is_refused() -> None:
    for prefix in ("{ragqa}:", "a{}:", "x}"):
        with pytest.raises(ValueError, match="must not contain"):
            RedisSettings(key_prefix=prefix)


def test_the_prefix_comes_from_the_settings() -> None:
    assert Keyspace.from_settings(RedisSettings(key_prefix="t:")).feedback == "t:feedback"
    assert Keyspace().jobs == RedisSettings().key_prefix + "jobs"


def test_the_docstring_table_names_every_key() -> None:
    table = keys_module.__doc__ or ""
    for pattern in ("ans:<fingerprint>", "cite:<collection>:<doc_id>", "answer:<answer_id>", "sem:<scope>:<version>",
                    "rl:<identity>", "feedback", "job:{<id>}", "job:{<id>}:docs", "job:{<id>}:open",
                    "job:{<id>}:deliveries", "job:{<id>}:solo", "job:{<id>}:active", "job:{<id>}:lease:<doc_id>",
                    "jobs", "jobs:open", "consumers:<queue>", "runner:<owner>"):  # fmt: skip
        assert f"``{pattern}``" in table, pattern


def test_no_module_but_the_keyspace_prefixes_a_key() -> None:
    # f"{self.prefix}ans:{fp}", f"{prefix}feedback", f"{settings.redis.key_prefix}jobs": a key named by hand.
    prefixed = re.compile(r"""f["'][^"'\n]*\{[\w.]*prefix\}[a-z_]+[:"']""")
    offenders = []
    for package in ("core", "ingest", "retrieval", "generation", "state", "jobs", "api", "workers", "bootstrap", "cli"):
        for path in (REPO / package).rglob("*.py"):
            if path == REPO / "state" / "keys.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if prefixed.search(line):
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, "build Redis keys with state.keys.Keyspace:\n" + "\n".join(offenders)
