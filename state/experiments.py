"""Experiments kept in Redis (the jobs' Redis, which evicts nothing), and the signals of their arms.

``ExperimentStore`` (sync) serves ``ragqa experiments create/list/stop/report``; ``ExperimentBook``
(async, behind the circuit breaker) serves the API: which experiment a question falls in and its
arm (``core.experiments``: a hash, so every process agrees), and the arm's counters.

    experiment:{<name>}             string  the experiment as JSON (arms, collection, created, stopped)
    experiment:{<name>}:arm:<arm>   hash    answers, cached, fresh, refused, low_confidence, latency_ms,
                                            latency_ms_sq, tokens, tokens_sq (fresh answers), up, down,
                                            citation_open, copy
    experiments                     zset    names by creation time

Guarantees:

- A question is in one experiment at most: a running experiment's collection (or all of them) may
  not overlap another running one's (``create`` refuses).
- A question that sets a setting the experiment varies (``top_k`` in its body) stays out of it: its
  arm would not be what it got.
- Experiments are read by each API process every ``api.experiments_refresh_s`` (one ``ZRANGE`` and one
  pipelined read); a Redis outage keeps the last ones read. A create or stop reaches every process
  within that time.
- Counters are written after the answer is sent (``state.background``); votes and widget events
  when they arrive. A counter lost to an outage is logged, never an answer.

    store = ExperimentStore(client, "ragqa:")
    store.create(Experiment("prompts", (parse_arm("a:prompt_version=rag-v1:50"),
                                        parse_arm("b:prompt_version=rag-v2:50"))))
    store.stop("prompts")
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from core.answer_request import AnswerRequest
from core.errors import InvalidRequest, NotFound, StoreUnavailable
from core.experiments import Assignment, Experiment
from state.guard import GuardedRedis
from state.keys import Keyspace
from state.topology import REDIS_ERRORS, SyncRedis

log = structlog.get_logger(__name__)

# What the widget and clients may report about an answer (POST /events), and the votes.
EVENT_KINDS = ("citation_open", "copy")
COUNTERS = ("answers", "cached", "fresh", "refused", "low_confidence", "latency_ms", "latency_ms_sq", "tokens",
            "tokens_sq", "up", "down", *EVENT_KINDS)  # fmt: skip


@dataclass(frozen=True, slots=True)
class AnswerSignal:
    """What one served answer tells about its arm; latency and tokens only for a fresh answer."""

    cached: bool
    refused: bool
    low_confidence: bool
    latency_ms: float = 0.0
    tokens: int = 0

    def increments(self) -> dict[str, float]:
        out: dict[str, float] = {"answers": 1, "cached": int(self.cached), "refused": int(self.refused),
                                 "low_confidence": int(self.low_confidence)}  # fmt: skip
        if not self.cached:
            out |= {"fresh": 1, "latency_ms": self.latency_ms, "latency_ms_sq": self.latency_ms**2,
                    "tokens": self.tokens, "tokens_sq": self.tokens**2}  # fmt: skip
        return out


def _decode(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _experiments(rows: list[Any]) -> list[Experiment]:
    return [Experiment.from_dict(json.loads(raw)) for raw in rows if raw]


class ExperimentStore:
    """Create, list, stop and read experiments (the CLI's side); Redis errors become ``StoreUnavailable``."""

    def __init__(self, client: SyncRedis, prefix: str) -> None:
        self._client = client
        self._keys = Keyspace(prefix)

    def create(self, experiment: Experiment) -> Experiment:
        """Stores a new experiment; a name is used once, and running experiments never overlap."""
        clash = next((e for e in self.list() if e.running and e.overlaps(experiment)), None)
        if clash is not None:
            where = f"collection {clash.collection!r}" if clash.collection else "every collection"
            raise InvalidRequest(f"experiment {clash.name!r} is running on {where}: a question is in one "
                                 "experiment at most (stop it first, or give another --collection)")
        try:
            if not self._client.set(self._keys.experiment(experiment.name), json.dumps(experiment.to_dict()), nx=True):
                raise InvalidRequest(f"an experiment named {experiment.name!r} exists (stopped ones keep their "
                                     "report): pick another name")  # fmt: skip
            self._client.zadd(self._keys.experiments, {experiment.name: experiment.created})
        except REDIS_ERRORS as exc:
            raise StoreUnavailable(f"could not store the experiment in Redis: {exc}") from exc
        return experiment

    def list(self) -> list[Experiment]:
        try:
            names = [_decode(n) for n in self._client.zrange(self._keys.experiments, 0, -1)]
            pipe = self._client.pipeline(transaction=False)
            for name in names:
                pipe.get(self._keys.experiment(name))
            rows = pipe.execute()
        except REDIS_ERRORS as exc:
            raise StoreUnavailable(f"could not read the experiments from Redis: {exc}") from exc
        return _experiments(rows)

    def get(self, name: str) -> Experiment:
        try:
            raw = self._client.get(self._keys.experiment(name))
        except REDIS_ERRORS as exc:
            raise StoreUnavailable(f"could not read the experiment from Redis: {exc}") from exc
        if not raw:
            raise NotFound(f"no experiment named {name!r} (`ragqa experiments list` shows them)")
        return Experiment.from_dict(json.loads(raw))

    def stop(self, name: str) -> Experiment:
        """Stops assigning questions to it; its counters stay (late votes still count)."""
        experiment = self.get(name)
        if not experiment.running:
            return experiment
        stopped = Experiment(experiment.name, experiment.arms, experiment.collection, experiment.created, time.time())
        try:
            self._client.set(self._keys.experiment(name), json.dumps(stopped.to_dict()))
        except REDIS_ERRORS as exc:
            raise StoreUnavailable(f"could not stop the experiment in Redis: {exc}") from exc
        return stopped

    def counters(self, experiment: Experiment) -> dict[str, dict[str, float]]:
        """Each arm's counters (every one of ``COUNTERS``, 0 when never counted)."""
        try:
            pipe = self._client.pipeline(transaction=False)
            for arm in experiment.arms:
                pipe.hgetall(self._keys.experiment_arm(experiment.name, arm.name))
            rows = pipe.execute()
        except REDIS_ERRORS as exc:
            raise StoreUnavailable(f"could not read the experiment's counters from Redis: {exc}") from exc
        out = {}
        for arm, raw in zip(experiment.arms, rows, strict=True):
            values = {_decode(k): float(_decode(v)) for k, v in (raw or {}).items()}
            out[arm.name] = {c: values.get(c, 0.0) for c in COUNTERS}
        return out


class ExperimentBook:
    """The API's view: the running experiments (re-read every ``refresh_s``), enrolment, counters.

    Example::

        request, assignment = await book.enroll(request, subject="user:ana")
        await book.record_answer(assignment, AnswerSignal(cached=False, refused=False, low_confidence=False,
                                                          latency_ms=41.0, tokens=0))
        await book.count({"name": "prompts", "arm": "b"}, "up")
    """

    def __init__(self, guarded: GuardedRedis, prefix: str, refresh_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.guarded = guarded
        self.keys = Keyspace(prefix)
        self.refresh_s = refresh_s
        self.clock = clock
        self._running: list[Experiment] = []
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    async def running(self) -> list[Experiment]:
        now = self.clock()
        if self._read_at is not None and now - self._read_at < self.refresh_s:
            return self._running
        async with self._lock:  # one read for the questions that arrive together
            if self._read_at is None or self.clock() - self._read_at >= self.refresh_s:
                try:
                    self._running = [e for e in await self._read() if e.running]
                except StoreUnavailable as exc:  # keep the last ones read; try again after refresh_s
                    log.warning("experiments.unreadable", error=exc.message, kept=len(self._running))
                self._read_at = self.clock()
        return self._running

    async def _read(self) -> list[Experiment]:
        client = self.guarded.client
        members = await self.guarded.call("experiments_list", lambda: client.zrange(self.keys.experiments, 0, -1))
        names = [_decode(n) for n in members]
        if not names:
            return []

        async def fetch() -> list[Any]:
            pipe = client.pipeline(transaction=False)
            for name in names:
                pipe.get(self.keys.experiment(name))
            return await pipe.execute()

        return _experiments(await self.guarded.call("experiments_read", fetch))

    async def enroll(self, request: AnswerRequest, subject: str | None) -> tuple[AnswerRequest, Assignment | None]:
        """``request`` in its experiment's arm for ``subject``, or as it is when it is in none."""
        if subject is None:
            return request, None
        experiment = next((e for e in await self.running() if e.covers(request.collection)), None)
        if experiment is None:
            return request, None
        if any(arm.sets_what(request) for arm in experiment.arms):
            return request, None  # it chose a setting the experiment varies: its answer is no arm's
        arm = experiment.assign(subject)
        return arm.apply(request, experiment.name), Assignment(experiment.name, arm.name)

    async def record_answer(self, assignment: Assignment, signal: AnswerSignal) -> None:
        await self._increment(assignment.experiment, assignment.arm, signal.increments())

    async def count(self, experiment: Mapping[str, Any] | None, counter: str) -> bool:
        """Counts a vote (``up``, ``down``) or a widget event for the arm an answer's ``experiment``
        field names; False when the answer was in none."""
        if not experiment or not experiment.get("name") or not experiment.get("arm"):
            return False
        await self._increment(str(experiment["name"]), str(experiment["arm"]), {counter: 1})
        return True

    async def _increment(self, name: str, arm: str, amounts: Mapping[str, float]) -> None:
        key = self.keys.experiment_arm(name, arm)

        async def write() -> None:
            pipe = self.guarded.client.pipeline(transaction=False)
            for counter, amount in amounts.items():
                if isinstance(amount, int):
                    pipe.hincrby(key, counter, amount)
                else:
                    pipe.hincrbyfloat(key, counter, amount)
            await pipe.execute()

        await self.guarded.call("experiment_count", write)
