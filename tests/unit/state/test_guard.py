"""The circuit breaker in front of Redis, on a fake clock."""

from __future__ import annotations

from state.guard import CircuitBreaker


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
