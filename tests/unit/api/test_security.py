"""API keys, the token bucket's arithmetic and the circuit breaker, without sockets."""

from __future__ import annotations

import pytest

from api.errors import Unauthorized
from api.redis_guard import CircuitBreaker
from api.security import ApiKeys, BucketState, hash_key, presented_key, take_token


def test_keys_are_compared_by_digest() -> None:
    keys = ApiKeys([hash_key("alpha"), hash_key("beta").upper()])  # digests are case-insensitive hex
    assert keys.enabled
    assert keys.identify("alpha") == hash_key("alpha")
    assert keys.identify("beta") == hash_key("beta")
    with pytest.raises(Unauthorized):
        keys.identify("gamma")
    with pytest.raises(Unauthorized):
        keys.identify(None)


def test_no_keys_means_auth_is_off() -> None:
    assert not ApiKeys([]).enabled
    assert not ApiKeys(["  "]).enabled


@pytest.mark.parametrize(("headers", "expected"), [
    ({"authorization": "Bearer k1"}, "k1"),
    ({"authorization": "bearer  k1 "}, "k1"),
    ({"x-api-key": "k2"}, "k2"),
    ({"authorization": "Basic abc", "x-api-key": "k3"}, "k3"),
    ({"authorization": "Bearer "}, None),
    ({}, None),
])  # fmt: skip
def test_presented_key(headers: dict[str, str], expected: str | None) -> None:
    assert presented_key(headers) == expected


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


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_consecutive_failures_and_recovers() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=2, reset_s=5.0, clock=clock)
    breaker.failure()
    assert breaker.state == "closed" and breaker.allow()
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    clock.now = 5.0
    assert breaker.state == "half_open"
    assert breaker.allow()  # one trial call...
    assert not breaker.allow()  # ...and only one
    breaker.success()
    assert breaker.state == "closed" and breaker.allow()


def test_a_failed_trial_reopens_the_breaker() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, reset_s=2.0, clock=clock)
    breaker.failure()
    clock.now = 2.5
    assert breaker.allow()
    breaker.failure()
    assert breaker.state == "open"
    clock.now = 4.0
    assert not breaker.allow()  # the wait restarts from the failed trial
    clock.now = 4.5
    assert breaker.allow()


def test_a_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(failures=2, reset_s=1.0, clock=Clock())
    breaker.failure()
    breaker.success()
    breaker.failure()
    assert breaker.state == "closed"
