"""The Redis side of a collection's backup (``ragqa backup --with-redis``): what Redis holds of one
collection that nothing else can rebuild, as JSON lines beside the engine's copy (``retrieval.backup``).

::

    DIR/redis/
    ├── feedback.jsonl      {"id", "fields"}: the feedback stream's entries whose answer names the
    │                       collection, as stored (``state.feedback``)
    ├── experiments.jsonl   {"experiment", "arms"}: experiments scoped to the collection, with each
    │                       arm's counters as stored (``state.experiments``)
    └── audit.jsonl         {"id", "fields"}: audit entries naming the collection (``state.audit``)

Left out: what is derived or passing (cached answers and answer records: the restored collection has
a fresh version token, so none would be served; the semantic cache; rate-limit buckets; usage
counters, which count callers across collections), what spans every collection (API keys,
experiments over every collection, job records), and the golden set (a file, made from feedback).

A restore adds what is missing and nothing twice, so it may run again after a failure:

- feedback: a row is there when the stream holds one with its ``answer_id`` and ``created_at`` (kept
  through erasure's rewrite); a missing row is added under its old id when the stream has none newer,
  else under a new one (a stream only grows at its end): its feedback id changes, not its contents;
- experiments: one whose name is taken is left as it is (counters included); one that was running
  and would overlap a running experiment comes back stopped (a question is in one experiment at most);
- audit entries: an entry's id is its time, so one is only added under its own id, when the trail
  holds nothing newer; the others stay in the backup's file (counted ``not_placed``).

Nothing is read, changed or removed for any other collection. The rows are read after the engine's
copy, with no lock across the two: a vote cast during the backup may or may not be in it.

    kept = backup_state(StateClients(cache_client, jobs_client, "ragqa:"), "docs", Path("backups/docs"))
    plan = StateBackup.open(Path("backups/docs"), kept, "docs", "docs")
    plan.restore(StateClients(cache_client, jobs_client, "ragqa:"))   # {"feedback": {"added": 3, ...}, ...}
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import structlog

from core.errors import InvalidRequest, StoreUnavailable
from core.experiments import Experiment
from state.experiments import ExperimentStore
from state.keys import Keyspace
from state.streams import stream_entries, text
from state.topology import REDIS_ERRORS, SyncRedis

log = structlog.get_logger(__name__)
FOLDER = "redis"
PARTS = ("feedback", "experiments", "audit")


@dataclass(frozen=True, slots=True)
class StateClients:
    """Where each part lives: feedback in the cache's Redis (``redis.url``), experiments and the audit
    trail in the one that evicts nothing (``redis.jobs_url`` when set)."""

    cache: SyncRedis
    durable: SyncRedis
    prefix: str


def _answer_collection(fields: Mapping[str, str]) -> str | None:
    try:
        answer = json.loads(fields.get("answer") or "{}")
    except ValueError:
        return None
    return answer.get("collection") if isinstance(answer, dict) else None


def _feedback_identity(fields: Mapping[str, str]) -> tuple[str, str]:
    return fields.get("answer_id", ""), fields.get("created_at", "")


def _write(path: Path, rows: Iterator[dict[str, Any]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
    return count


def _experiment_rows(client: SyncRedis, prefix: str, collection: str) -> Iterator[dict[str, Any]]:
    keys = Keyspace(prefix)
    for experiment in ExperimentStore(client, prefix).list():
        if experiment.collection != collection:
            continue  # one over every collection is not this collection's
        arms = {}
        for arm in experiment.arms:
            # As stored (strings): HINCRBY goes on working on an integer counter restored as "3", not "3.0".
            raw: Any = client.hgetall(keys.experiment_arm(experiment.name, arm.name))
            arms[arm.name] = {text(k): text(v) for k, v in raw.items()}
        yield {"experiment": experiment.to_dict(), "arms": arms}


def backup_state(clients: StateClients, collection: str, folder: Path) -> dict[str, int]:
    """Writes ``folder/redis/*.jsonl`` for ``collection``; how many rows of each (for the manifest)."""
    keys = Keyspace(clients.prefix)
    out = folder / FOLDER
    out.mkdir(parents=True, exist_ok=True)
    feedback = ({"id": i, "fields": f} for i, f in stream_entries(clients.cache, keys.feedback, "feedback")
                if _answer_collection(f) == collection)
    audit = ({"id": i, "fields": f} for i, f in stream_entries(clients.durable, keys.audit, "the audit trail")
             if f.get("collection") == collection)
    try:
        counts = {"feedback": _write(out / "feedback.jsonl", feedback),
                  "experiments": _write(out / "experiments.jsonl",
                                        _experiment_rows(clients.durable, clients.prefix, collection)),
                  "audit": _write(out / "audit.jsonl", audit)}  # fmt: skip
    except REDIS_ERRORS as exc:
        raise StoreUnavailable(f"could not read {collection!r}'s state from Redis: {exc}") from exc
    except OSError as exc:
        raise InvalidRequest(f"cannot write the Redis state into {out}: {exc.strerror or exc}") from exc
    log.info("backup.redis_done", collection=collection, **counts)
    return counts


# What a row of each file must hold (a file edited by hand, or cut short, is refused before any write).
SHAPES: dict[str, tuple[tuple[str, type], ...]] = {
    "feedback": (("id", str), ("fields", dict)), "experiments": (("experiment", dict), ("arms", dict)),
    "audit": (("id", str), ("fields", dict))}  # fmt: skip


def _rows(path: Path, part: str) -> Iterator[dict[str, Any]]:
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    raise InvalidRequest(f"{path}:{number} is not JSON: {exc}") from exc
                if not isinstance(row, dict) or any(not isinstance(row.get(k), t) for k, t in SHAPES[part]):
                    wanted = ", ".join(k for k, _ in SHAPES[part])
                    raise InvalidRequest(f"{path}:{number} is not a {part} row ({wanted})")
                yield row
    except OSError as exc:
        raise InvalidRequest(f"cannot read {path}: {exc.strerror or exc}") from exc


def _experiment(row: dict[str, Any], folder: Path) -> Experiment:
    """The row's experiment, its arms and shares checked as a create checks them."""
    try:
        return Experiment.from_dict(row["experiment"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidRequest(f"{folder / FOLDER}/experiments.jsonl holds an unreadable experiment: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class StateBackup:
    """The Redis state a backup holds, checked against its manifest before anything is restored."""

    folder: Path
    collection: str

    @classmethod
    def open(cls, folder: Path, counts: Mapping[str, int], collection: str, target: str) -> StateBackup:
        """Refuses a backup whose files do not hold what its manifest counts, and a restore under another
        name (the rows name ``collection``: under ``target`` they would belong to the wrong one)."""
        if target != collection:
            raise InvalidRequest(f"this backup holds the Redis state of {collection!r} (feedback, experiments, audit "
                                 f"entries naming it), which would not belong to {target!r}: restore under "
                                 f"{collection!r}, or add --without-redis")  # fmt: skip
        for part in PARTS:
            found = 0
            for row in _rows(folder / FOLDER / f"{part}.jsonl", part):
                if part == "experiments":
                    _experiment(row, folder)
                found += 1
            if found != int(counts.get(part, 0)):
                raise InvalidRequest(f"{folder / FOLDER / part}.jsonl holds {found} rows, the manifest "
                                     f"{counts.get(part, 0)}: the backup is incomplete")
        return cls(folder, collection)

    def restore(self, clients: StateClients) -> dict[str, dict[str, int]]:
        """Adds what is missing (see the module docstring); what it did, per part."""
        try:
            done = {"feedback": self._feedback(clients.cache, clients.prefix),
                    "experiments": self._experiments(clients.durable, clients.prefix),
                    "audit": self._audit(clients.durable, clients.prefix)}  # fmt: skip
        except REDIS_ERRORS as exc:
            raise StoreUnavailable(f"could not restore {self.collection!r}'s state into Redis (what was added "
                                   f"stays; running the restore again adds the rest): {exc}") from exc
        log.info("restore.redis_done", collection=self.collection,
                 **{f"{part}_added": counts["added"] for part, counts in done.items()})
        return done

    def _path(self, part: str) -> Path:
        return self.folder / FOLDER / f"{part}.jsonl"

    def _feedback(self, client: SyncRedis, prefix: str) -> dict[str, int]:
        key = Keyspace(prefix).feedback
        wanted = {_feedback_identity(row["fields"]) for row in _rows(self._path("feedback"), "feedback")}
        # Only identities the backup holds are kept: memory follows the backup, not the stream.
        present = {ident for _, f in stream_entries(client, key, "feedback")
                   if (ident := _feedback_identity(f)) in wanted}  # fmt: skip
        counts = {"added": 0, "present": 0, "new_ids": 0}
        for row in _rows(self._path("feedback"), "feedback"):
            fields = row["fields"]
            if _feedback_identity(fields) in present:
                counts["present"] += 1
                continue
            try:
                client.xadd(key, fields, id=row["id"])
            except redis.ResponseError:  # the stream holds a newer entry: its end is the only place left
                client.xadd(key, fields)
                counts["new_ids"] += 1
            present.add(_feedback_identity(fields))
            counts["added"] += 1
        return counts

    def _experiments(self, client: SyncRedis, prefix: str) -> dict[str, int]:
        keys, store = Keyspace(prefix), ExperimentStore(client, prefix)
        counts = {"added": 0, "present": 0, "stopped": 0}
        for row in _rows(self._path("experiments"), "experiments"):
            experiment = _experiment(row, self.folder)
            if client.exists(keys.experiment(experiment.name)):
                counts["present"] += 1
                continue
            if experiment.running and any(e.running and e.overlaps(experiment) for e in store.list()):
                experiment = Experiment(experiment.name, experiment.arms, experiment.collection, experiment.created,
                                        time.time())
                counts["stopped"] += 1
            # Counters first, the definition last: a restore cut short in between is finished by the next
            # (the name is still free), and never writes over an experiment that exists.
            for arm, values in (row.get("arms") or {}).items():
                if values:
                    client.hset(keys.experiment_arm(experiment.name, arm), mapping=values)
            if client.set(keys.experiment(experiment.name), json.dumps(experiment.to_dict()), nx=True):
                client.zadd(keys.experiments, {experiment.name: experiment.created})
                counts["added"] += 1
            else:
                counts["present"] += 1
        return counts

    def _audit(self, client: SyncRedis, prefix: str) -> dict[str, int]:
        key = Keyspace(prefix).audit
        counts = {"added": 0, "present": 0, "not_placed": 0}
        for row in _rows(self._path("audit"), "audit"):
            if client.xrange(key, min=row["id"], max=row["id"], count=1):
                counts["present"] += 1
                continue
            try:
                client.xadd(key, row["fields"], id=row["id"])
                counts["added"] += 1
            except redis.ResponseError:  # the trail holds a newer entry: a new id would be a false time
                counts["not_placed"] += 1
        return counts
