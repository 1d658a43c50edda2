"""The token bucket's arithmetic (the Lua script in Redis does the same), without sockets."""

from __future__ import annotations

import pytest

from state.rate_limit import BucketState, take_token


def test_a_new_bucket_allows_a_burst_then_refuses() -> None:
    state = None
    for _ in range(3):
        allowed, state, retry = take_token(state, now=100.0, rate_per_s=1.0, capacity=3.0)
        assert allowed and retry == 0.0
    allowed, state, retry = take_token(state, now=100.0, rate_per_s=1.0, capacity=3.0)
    assert not allowed
    assert retry == pytest.approx(1.0)


def test_the_bucket_refills_at_the_rate_up_to_capacity() -> None:
    empty = BucketState(tokens=0.0, at=0.0)
    allowed, _, retry = take_token(empty, now=0.25, rate_per_s=2.0, capacity=5.0)
    assert not allowed and retry == pytest.approx(0.25)  # 0.5 token, half a token missing at 2/s
    allowed, state, _ = take_token(empty, now=0.5, rate_per_s=2.0, capacity=5.0)
    assert allowed and state.tokens == pytest.approx(0.0)
    _, full, _ = take_token(empty, now=3600.0, rate_per_s=2.0, capacity=5.0)
    assert full.tokens == pytest.approx(4.0)  # capped at 5, minus the one taken


def test_a_clock_going_backwards_never_adds_tokens() -> None:
    allowed, state, _ = take_token(BucketState(0.5, at=10.0), now=9.0, rate_per_s=1.0, capacity=2.0)
    assert not allowed and state.tokens == pytest.approx(0.5)
