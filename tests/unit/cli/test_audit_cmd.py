"""`ragqa audit --since`: a duration ago or a date."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cli.audit_cmd import parse_since
from core.errors import InvalidRequest

NOW = datetime(2026, 12, 1, 12, 0)


@pytest.mark.parametrize(("value", "expected"), [
    ("90s", datetime(2026, 12, 1, 11, 58, 30)), ("30m", datetime(2026, 12, 1, 11, 30)),
    ("2h", datetime(2026, 12, 1, 10, 0)), ("7d", datetime(2026, 11, 24, 12, 0)), ("2W", datetime(2026, 11, 17, 12)),
    ("2026-11-30", datetime(2026, 11, 30)), ("2026-11-30T08:15", datetime(2026, 11, 30, 8, 15)),
    ("2026-11-30T08:15:00+00:00", datetime(2026, 11, 30, 8, 15, tzinfo=UTC)),
])  # fmt: skip
def test_since_reads_durations_and_dates(value: str, expected: datetime) -> None:
    assert parse_since(value, now=NOW) == expected


@pytest.mark.parametrize("value", ["yesterday", "2h30", "-2h", "2026-13-01", ""])
def test_since_refuses_anything_else(value: str) -> None:
    with pytest.raises(InvalidRequest, match="--since"):
        parse_since(value, now=NOW)
