"""An experiment's report: each arm's signals with 95% confidence intervals, and which arm people prefer.

Rates are proportions with Wilson score intervals (``scipy.stats.binomtest``): the thumbs-up rate
(up-votes over votes), and refusals, low-confidence answers, citation opens and copies over the
answers served. Latency and tokens are means over fresh answers (cache hits cost nothing), with
Student-t intervals from the counted sums and sums of squares.

The verdict compares thumbs-up rates: the arm with the highest rate against each other arm with
Fisher's exact test, the level 0.05 divided among the comparisons (Bonferroni). "Significant" means
every comparison passed; otherwise the report says no arm is better yet.

    >>> interval(80, 100)
    (0.8, 0.711, 0.867)
    >>> from core.experiments import Arm
    >>> report = build_report(Experiment("p", (Arm("a", 50), Arm("b", 50))),
    ...                       {"a": {"up": 30, "down": 70}, "b": {"up": 80, "down": 20}})
    >>> report.verdict.better, report.verdict.significant
    ('b', True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from core.experiments import Experiment

ALPHA = 0.05
Interval = tuple[float, float, float]  # estimate, low, high


def interval(successes: float, trials: float) -> Interval | None:
    """A proportion and its 95% Wilson interval, rounded to 3 places; None with no trials."""
    from scipy.stats import binomtest  # the API never imports scipy: only reports do

    n = int(trials)
    if n <= 0:
        return None
    k = min(int(successes), n)  # an API client may report an event twice: never over 100%
    ci = binomtest(k, n).proportion_ci(confidence_level=1 - ALPHA, method="wilson")
    return round(k / n, 3), round(float(ci.low), 3), round(float(ci.high), 3)


def mean_interval(total: float, squares: float, n: float) -> Interval | None:
    """A mean and its 95% Student-t interval from a sum and a sum of squares; None under two values."""
    from scipy.stats import t

    count = int(n)
    if count < 2:
        return (round(total, 3), round(total, 3), round(total, 3)) if count == 1 else None
    mean = total / count
    variance = max(0.0, (squares - count * mean * mean) / (count - 1))
    half = float(t.ppf(1 - ALPHA / 2, count - 1)) * math.sqrt(variance / count)
    return round(mean, 3), round(mean - half, 3), round(mean + half, 3)


@dataclass(frozen=True, slots=True)
class ArmReport:
    name: str
    share: float
    overrides: dict[str, Any]
    answers: int
    cached: int
    votes: int
    up: int
    thumbs_up: Interval | None
    refusals: Interval | None
    low_confidence: Interval | None
    citation_opens: Interval | None
    copies: Interval | None
    latency_ms: Interval | None
    tokens: Interval | None


@dataclass(frozen=True, slots=True)
class Verdict:
    better: str | None  # the arm with the highest thumbs-up rate (None: fewer than two arms have votes)
    significant: bool
    p_values: dict[str, float] = field(default_factory=dict)  # Fisher's exact p against each other arm
    summary: str = ""


@dataclass(frozen=True, slots=True)
class ExperimentReport:
    experiment: Experiment
    arms: list[ArmReport]
    verdict: Verdict

    def to_dict(self) -> dict[str, Any]:
        return {"experiment": self.experiment.to_dict(), "arms": [asdict(a) for a in self.arms],
                "verdict": asdict(self.verdict)}  # fmt: skip


def arm_report(experiment: Experiment, name: str, counts: Mapping[str, float]) -> ArmReport:
    c = {k: float(v) for k, v in counts.items()}
    get = c.get
    answers, fresh, up, down = (int(get(k, 0)) for k in ("answers", "fresh", "up", "down"))
    arm = experiment.arm(name)
    return ArmReport(
        name, arm.share, dict(arm.overrides), answers, int(get("cached", 0)), up + down, up,
        thumbs_up=interval(up, up + down), refusals=interval(get("refused", 0), answers),
        low_confidence=interval(get("low_confidence", 0), answers),
        citation_opens=interval(get("citation_open", 0), answers), copies=interval(get("copy", 0), answers),
        latency_ms=mean_interval(get("latency_ms", 0), get("latency_ms_sq", 0), fresh),
        tokens=mean_interval(get("tokens", 0), get("tokens_sq", 0), fresh),
    )  # fmt: skip


def compare(arms: list[ArmReport]) -> Verdict:
    """The arm with the highest thumbs-up rate against every other arm that has votes."""
    from scipy.stats import fisher_exact

    rated = [a for a in arms if a.votes > 0 and a.thumbs_up is not None]
    if len(rated) < 2:
        return Verdict(None, False, summary="not enough votes yet: two arms need thumbs to compare")
    best = max(rated, key=lambda a: (a.up / a.votes, a.votes))
    others = [a for a in rated if a is not best]
    p_values = {}
    for other in others:
        table = [[best.up, best.votes - best.up], [other.up, other.votes - other.up]]
        p_values[other.name] = float(fisher_exact(table).pvalue)
    level = ALPHA / len(others)
    significant = all(p < level for p in p_values.values())
    assert best.thumbs_up is not None
    rate, low, high = best.thumbs_up
    worst_p = max(p_values.values())
    if significant:
        summary = (f"arm {best.name} is better on thumbs-up rate: {rate:.1%} [95% CI {low:.1%}, {high:.1%}] "
                   f"over {best.votes} votes; significant (Fisher's exact p={worst_p:.2g} < {level:.2g})")
    else:
        summary = (f"no significant difference on thumbs-up rate yet: arm {best.name} leads with {rate:.1%} "
                   f"[95% CI {low:.1%}, {high:.1%}] (Fisher's exact p={worst_p:.2g}, needs < {level:.2g})")
    return Verdict(best.name, significant, p_values, summary)


def build_report(experiment: Experiment, counters: Mapping[str, Mapping[str, float]]) -> ExperimentReport:
    """The report from each arm's counters (``ExperimentStore.counters``)."""
    arms = [arm_report(experiment, a.name, counters.get(a.name, {})) for a in experiment.arms]
    return ExperimentReport(experiment, arms, compare(arms))
