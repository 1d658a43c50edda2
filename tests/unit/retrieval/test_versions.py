"""VersionTokens: what one index knows of its tokens, read through and written through."""

from __future__ import annotations

import threading

import pytest

from core.errors import IndexUnavailable
from retrieval.versions import UNVERSIONED, VersionTokens, new_token, token_of, version_payload


class Store:
    """The tokens as a backend would hold them, counting reads and writes."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {"docs": "t0"}
        self.reads = 0
        self.writes: list[str] = []
        self.fail_writes = False

    def read(self, collection: str) -> str:
        self.reads += 1
        return self.tokens.get(collection, "absent")

    def write(self, collection: str, token: str) -> None:
        if self.fail_writes:
            raise IndexUnavailable("down")
        self.writes.append(token)
        self.tokens[collection] = token


def test_tokens_are_fresh_and_round_trip_through_the_payload() -> None:
    tokens = {new_token() for _ in range(1000)}
    assert len(tokens) == 1000
    token = new_token()
    assert token_of(version_payload(token)) == token
    assert token_of(None) == token_of({}) == UNVERSIONED


def test_an_embedded_store_is_read_once_and_written_through() -> None:
    store = Store()
    tokens = VersionTokens(store.read, store.write, ttl_s=None)
    assert tokens.cached("docs") is None
    assert tokens.get("docs") == tokens.get("docs") == tokens.cached("docs") == "t0"
    assert store.reads == 1
    bumped = tokens.bump("docs")
    assert store.tokens["docs"] == bumped == tokens.get("docs") != "t0"
    assert store.reads == 1


def test_a_server_token_is_read_again_after_the_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr("retrieval.versions.time.monotonic", lambda: now[0])
    store = Store()
    tokens = VersionTokens(store.read, store.write, ttl_s=1.0)
    assert tokens.get("docs") == "t0"
    store.tokens["docs"] = "t1"  # another process wrote
    now[0] += 0.5
    assert tokens.cached("docs") == tokens.get("docs") == "t0"  # within the TTL
    now[0] += 0.6
    assert tokens.cached("docs") is None
    assert tokens.get("docs") == "t1" and store.reads == 2


def test_writing_moves_the_token_before_and_after_even_when_the_write_fails() -> None:
    store = Store()
    tokens = VersionTokens(store.read, store.write, ttl_s=None)
    seen_inside: list[str] = []
    with tokens.writing("docs"):
        seen_inside.append(tokens.get("docs"))
    assert len(store.writes) == 2 and seen_inside == [store.writes[0]] and tokens.get("docs") == store.writes[1]

    with pytest.raises(ValueError), tokens.writing("docs"):
        raise ValueError("the points write failed halfway")
    assert len(store.writes) == 4  # moved after too: a failed write may still have changed points


def test_a_failed_move_forgets_the_token_and_raises() -> None:
    store = Store()
    tokens = VersionTokens(store.read, store.write, ttl_s=None)
    tokens.get("docs")
    store.fail_writes = True
    with pytest.raises(IndexUnavailable), tokens.writing("docs"):
        pytest.fail("the points must not be written when the token cannot move first")
    assert tokens.cached("docs") is None  # read again from the store next time


def test_a_read_that_races_a_local_move_does_not_bring_the_old_token_back() -> None:
    store = Store()
    reading, moved = threading.Event(), threading.Event()

    def slow_read(collection: str) -> str:
        old = store.read(collection)  # the store's token before the move...
        reading.set()
        moved.wait(5)
        return old  # ...returned after it

    tokens = VersionTokens(slow_read, store.write, ttl_s=None)
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(tokens.get("docs")))
    reader.start()
    assert reading.wait(5)
    bumped = tokens.bump("docs")
    moved.set()
    reader.join(5)
    assert result == [bumped]  # the racing read yields to the newer local token
    assert tokens.get("docs") == bumped
