"""The report's statistics: Wilson intervals for rates, Student-t for means, and the verdict on thumbs-up
rates (Fisher's exact test, Bonferroni across the comparisons)."""

from __future__ import annotations

from core.experiments import Arm, Experiment
from state.experiment_report import build_report, interval, mean_interval

TWO = Experiment("p", (Arm("a", 50), Arm("b", 50)))


def test_rates_have_wilson_intervals_and_nothing_without_trials() -> None:
    assert interval(0, 0) is None
    rate, low, high = interval(0, 20)  # type: ignore[misc]
    assert rate == 0 and low == 0 and 0.1 < high < 0.2  # never a zero-width interval at 0%
    assert interval(7, 5) == interval(5, 5)  # an event reported twice never makes a rate over 1


def test_means_have_t_intervals_from_sums_and_squares() -> None:
    values = [10.0, 12.0, 14.0]
    mean, low, high = mean_interval(sum(values), sum(v * v for v in values), len(values))  # type: ignore[misc]
    assert mean == 12 and round(12 - low, 2) == round(high - 12, 2) == 4.97  # t(0.975, 2) * 2 / sqrt(3)
    assert mean_interval(0, 0, 0) is None and mean_interval(5, 25, 1) == (5, 5, 5)


def test_the_verdict_needs_votes_in_two_arms_and_a_clear_difference() -> None:
    assert build_report(TWO, {"a": {"up": 3}}).verdict.better is None
    close = build_report(TWO, {"a": {"up": 12, "down": 8}, "b": {"up": 10, "down": 10}}).verdict
    assert close.better == "a" and not close.significant and "no significant difference" in close.summary
    clear = build_report(TWO, {"a": {"up": 20, "down": 80}, "b": {"up": 70, "down": 30}}).verdict
    assert clear.better == "b" and clear.significant and clear.p_values["a"] < 1e-6


def test_with_three_arms_the_best_must_beat_each_other_at_the_corrected_level() -> None:
    three = Experiment("p", (Arm("a", 40), Arm("b", 30), Arm("c", 30)))
    counts = {"a": {"up": 60, "down": 40}, "b": {"up": 40, "down": 60}, "c": {"up": 55, "down": 45}}
    verdict = build_report(three, counts).verdict
    assert verdict.better == "a" and set(verdict.p_values) == {"b", "c"} and not verdict.significant


def test_each_arm_reports_its_rates_over_the_answers_served() -> None:
    counts = {"a": {"answers": 10, "cached": 8, "fresh": 2, "refused": 1, "low_confidence": 2, "citation_open": 3,
                    "copy": 1, "latency_ms": 30, "latency_ms_sq": 500, "tokens": 0, "tokens_sq": 0}}
    [a, b] = build_report(TWO, counts).arms
    assert (a.answers, a.cached, a.refusals[0], a.low_confidence[0], a.citation_opens[0], a.copies[0]) == (  # type: ignore[index]
        10, 8, 0.1, 0.2, 0.3, 0.1)
    assert a.latency_ms is not None and a.latency_ms[0] == 15 and a.tokens == (0, 0, 0)
    assert b.answers == 0 and b.refusals is None and b.thumbs_up is None
