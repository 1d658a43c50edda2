"""Reading a Redis stream a page at a time (feedback, the audit trail, erasure).

    for entry_id, fields in stream_entries(client, keys.feedback, "feedback"):
        ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from core.errors import StoreUnavailable
from state.topology import REDIS_ERRORS, SyncRedis


def stream_entries(client: SyncRedis, key: str, what: str, start: str = "-",
                   page: int = 500) -> Iterator[tuple[str, dict[str, str]]]:
    """Every entry from ``start`` on, oldest first, decoded; entries appended while it reads come
    too. Redis failing -> ``StoreUnavailable`` naming ``what`` was being read."""
    while True:
        try:
            entries: list[Any] = client.xrange(key, min=start, count=page)  # type: ignore[assignment]
        except REDIS_ERRORS as exc:
            raise StoreUnavailable(f"cannot read {what} from Redis: {exc}") from exc
        for entry_id, raw in entries:
            yield text(entry_id), {text(k): text(v) for k, v in raw.items()}
        if len(entries) < page:
            return
        start = "(" + text(entries[-1][0])


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
