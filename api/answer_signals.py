"""What the answer path reports once an answer is served: its cost, per caller and collection
(``state.usage`` and Prometheus), and, in an experiment, its arm's signals (``state.experiments``).

The Redis writes go in the background (``state.background``): a cache hit stays one Redis call on the
response's path. Only an answer in an experiment that came from the cache as bytes is parsed, to learn
whether it refused.

    >>> metric_key("key:ops-bot"), metric_key("user:ana"), metric_key("widget:widget visitor")
    ('ops-bot', 'user', 'widget')
"""

from __future__ import annotations

import json
from typing import Any

import structlog

from api.metrics import Metrics
from core.access import Principal
from core.answer_request import AnswerRequest
from core.errors import QuotaExceeded
from core.experiments import Assignment
from core.types import Answer
from state.background import BackgroundWrites
from state.experiments import AnswerSignal, ExperimentBook
from state.usage import Cost, UsageMeter

log = structlog.get_logger(__name__)


def subject_of(principal: Principal, user: str | None = None, conversation: str | None = None,
               address: str | None = None) -> str | None:
    """Whose arm an answer is in a live experiment: the end user the client names, else the conversation,
    else the key or signed-in user asking, else the client's address (a widget visitor without a chat id).

        >>> subject_of(Principal("ops-bot", "key"), user="42"), subject_of(Principal("ops-bot", "key"))
        ('user:42', 'key:ops-bot')
    """
    if user:
        return f"user:{user}"
    if conversation:
        return f"conversation:{conversation}"
    if principal.kind in ("key", "user"):
        return principal.label
    return f"addr:{address}" if address else None


def metric_key(caller: str) -> str:
    """The ``key`` label of the usage metrics: an API key's name, else the caller's kind (one series per
    key, never one per end user)."""
    kind, _, name = caller.partition(":")
    return name if kind == "key" else kind


class AnswerSignals:
    """Enrolment in experiments before the answer; usage and the arm's counters after it.

    Example::

        request, arm = await signals.enroll(request, subject="user:ana")
        ...
        signals.fresh("key:ops-bot", "docs", arm, answer, answer_id)   # or .cached(..., raw=bytes) on a hit
        await signals.drain()                                   # at shutdown
    """

    def __init__(self, metrics: Metrics, usage: UsageMeter | None = None,
                 experiments: ExperimentBook | None = None) -> None:
        self.metrics = metrics
        self.usage = usage
        self.experiments = experiments
        self.writes = BackgroundWrites("answer_signals")

    async def enroll(self, request: AnswerRequest, subject: str | None) -> tuple[AnswerRequest, Assignment | None]:
        if self.experiments is None:
            return request, None
        return await self.experiments.enroll(request, subject)

    async def check_quota(self, principal: Principal) -> None:
        """Raises ``QuotaExceeded`` (429) when ``principal``'s key has used its daily tokens."""
        if self.usage is None or principal.daily_tokens is None:
            return
        try:
            await self.usage.check_quota(principal.label, principal.daily_tokens, principal.name)
        except QuotaExceeded:
            self.metrics.quota_exceeded.inc()
            raise

    def fresh(self, caller: str, collection: str, arm: Assignment | None, answer: Answer, answer_id: str) -> None:
        """A fresh answer: its tokens and time, and its arm's signals."""
        total_ms = float(answer.timings_ms.get("total", 0.0))
        cost = Cost(False, answer.usage.prompt_tokens, answer.usage.completion_tokens, total_ms)
        self._meter(caller, collection, cost)
        if arm is not None:
            self._count(arm, answer_id, AnswerSignal(False, answer.refused, answer.confidence == "low", total_ms,
                                                     answer.usage.total_tokens))

    def cached(self, caller: str, collection: str, arm: Assignment | None, raw: bytes | None = None,
               payload: dict[str, Any] | None = None) -> None:
        """A cache hit (as stored bytes, or a semantic hit's payload): an answer served at no cost."""
        self._meter(caller, collection, Cost(True))
        if arm is not None:
            data = payload if payload is not None else json.loads(raw or b"{}")
            signal = AnswerSignal(True, bool(data.get("refused")), data.get("confidence") == "low")
            self._count(arm, str(data.get("answer_id", "")), signal)

    def _meter(self, caller: str, collection: str, cost: Cost) -> None:
        key = metric_key(caller)
        self.metrics.usage_answers.labels(key=key, collection=collection, cached=str(cost.cached).lower()).inc()
        if not cost.cached:
            self.metrics.usage_tokens.labels(key=key, collection=collection, type="prompt").inc(cost.prompt_tokens)
            self.metrics.usage_tokens.labels(key=key, collection=collection,
                                             type="completion").inc(cost.completion_tokens)
            self.metrics.usage_model_seconds.labels(key=key, collection=collection).inc(cost.model_ms / 1000)
        usage = self.usage
        if usage is not None:
            self.writes.submit(lambda: usage.record(caller, collection, cost))

    def _count(self, arm: Assignment, answer_id: str, signal: AnswerSignal) -> None:
        self.metrics.experiment_answers.labels(experiment=arm.experiment, arm=arm.arm).inc()
        log.info("experiment.answer", experiment=arm.experiment, arm=arm.arm, answer_id=answer_id,
                 cached=signal.cached, refused=signal.refused)
        experiments = self.experiments
        if experiments is not None:
            self.writes.submit(lambda: experiments.record_answer(arm, signal))

    async def drain(self) -> None:
        await self.writes.drain()
