"""Every Redis key ragqa writes, named in one place; each starts with ``redis.key_prefix``.

``<name>`` stands for a value; braces are literal: a Redis Cluster hash tag (below).

Key (after the prefix)               type    holds                                         owner
-----------------------------------  ------  --------------------------------------------  -------------------------
``ans:<fingerprint>``                string  ``<index version>\\n<answer JSON>``; TTL       ``state.answer_cache``
                                             ``redis.cache_ttl_s``
``cite:<collection>:<doc_id>``       set     cached answers and answer records that cite   ``state.answer_cache``
                                             the document (erased with it: state.erasure)
``answer:<answer_id>``               string  the answer as served, for feedback; TTL       ``state.answer_cache``
                                             ``redis.answer_ttl_s``
``sem:<scope>:<version>``            hash    question fingerprint -> embedding (float32)   ``state.semantic_cache``
``rl:<identity>``                    hash    a token bucket: ``tokens``, ``at``            ``state.rate_limit``
``feedback``                         stream  feedback_id -> {answer_id, rating, ...}       ``state.feedback``
``apikey:<digest>``                  hash    a scoped API key: name, roles, collections,   ``state.api_keys``
                                             groups, created, revoked
``apikeys``                          zset    key digests by creation time (for listing)    ``state.api_keys``
``audit``                            stream  who did what: principal, action, route,       ``state.audit``
                                             collection, document ids, status
``experiment:{<name>}``              string  an experiment as JSON: arms (name, share,     ``state.experiments``
                                             settings), collection, created, stopped
``experiment:{<name>}:arm:<arm>``    hash    the arm's signals: answers, cached, refused,  ``state.experiments``
                                             low_confidence, latency and token sums, up,
                                             down, citation_open, copy
``experiments``                      zset    experiment names by creation time             ``state.experiments``
``usage:<YYYY-MM-DD>``               hash    ``<caller>|<collection>|<metric>`` -> count   ``state.usage``
                                             (answers, cached, tokens, model_ms, ...) of a
                                             UTC day; ``<caller>|*|tokens`` for quotas;
                                             TTL ``redis.usage_ttl_days``
``job:{<id>}``                       hash    a job's record (collection, state, runner,    ``jobs.store``
                                             owner, spec, cancel, times, error)
``job:{<id>}:docs``                  hash    doc_id -> JSON progress of the document       ``jobs.store``
``job:{<id>}:open``                  set     doc_ids not yet final                         ``jobs.store``
``job:{<id>}:deliveries``            hash    doc_id -> times handed to a runner            ``jobs.store``
``job:{<id>}:solo``                  hash    doc_id -> times run alone after a crash       ``jobs.store``
``job:{<id>}:active``                set     doc_ids being parsed, embedded or indexed     ``jobs.store``
``job:{<id>}:lease:<doc_id>``        string  the worker running the document, while it     ``jobs.leases``
                                             lives (a lease, ``workers.document_lease_s``)
``jobs``                             zset    job ids by creation time (for listing)        ``jobs.store``
``jobs:open``                        set     ids of jobs not yet over (for recovery)       ``jobs.store``
``consumers:<queue>``                zset    worker -> lease expiry (ms): who consumes     ``jobs.leases``
                                             the queue (``/readyz``)
``runner:<owner>``                   string  present while in-process runner ``owner``     ``jobs.store``
                                             lives (a lease)

Hash tags (Redis Cluster): a cluster runs a script or a MULTI/EXEC only when all its keys hash to one
slot, and a key whose name holds ``{tag}`` hashes by the tag alone. What must change together is
tagged together, and nothing more, so the load still spreads over the cluster's nodes:

- a job's keys share the tag ``{<id>}``: the scripts of ``jobs.scripts`` (move a document, cancel,
  claim) and the transactions of ``jobs.store`` and ``jobs.leases`` touch one job's keys only, so
  every job is one slot and the jobs spread over all of them;
- the job indexes (``jobs``, ``jobs:open``) and the runners' leases are written beside those steps,
  not inside them: each is a lookup that tolerates an id whose job is gone or not yet there;
- an experiment's keys share the tag ``{<name>}``, so its definition and its arms' counters sit on one
  node (read together by ``ragqa experiments report``);
- everything else is read and written one key at a time (a pipeline that is not a transaction may
  span slots), so it needs no tag: cached answers and their citation sets, answer records, the
  semantic cache, rate limits, the streams, API keys (written record first, index second).

The prefix must not hold braces (``RedisSettings`` refuses it): a tag in it would put every key in
one slot, and an empty ``{}`` would turn the jobs' tags off.

Job keys had no tag before (``job:<id>``, ``job:<id>:docs``, ...): ``legacy_job`` and
``legacy_job_docs`` name them, so ``jobs.store`` still shows a job recorded before the upgrade.

    >>> keys = Keyspace("ragqa:")
    >>> keys.cached_answer("3f2a"), keys.job_docs("j1"), keys.feedback
    ('ragqa:ans:3f2a', 'ragqa:job:{j1}:docs', 'ragqa:feedback')
"""

from __future__ import annotations

from dataclasses import dataclass

from core.settings import RedisSettings


@dataclass(frozen=True, slots=True)
class Keyspace:
    """The names of ragqa's Redis keys under one prefix (``redis.key_prefix``).

    Example::

        keys = Keyspace.from_settings(settings.redis)
        client.get(keys.cached_answer(fp))
        client.hgetall(keys.job(job_id))
    """

    prefix: str = "ragqa:"

    @classmethod
    def from_settings(cls, settings: RedisSettings) -> Keyspace:
        return cls(settings.key_prefix)

    # Answers: the exact cache, the citation index that evicts it, the records feedback rates.

    def cached_answer(self, fingerprint: str) -> str:
        return f"{self.prefix}ans:{fingerprint}"

    def citations(self, collection: str, doc_id: str) -> str:
        return f"{self.prefix}cite:{collection}:{doc_id}"

    def answer_record(self, answer_id: str) -> str:
        return f"{self.prefix}answer:{answer_id}"

    def semantic(self, scope: str, version: str) -> str:
        return f"{self.prefix}sem:{scope}:{version}"

    # Requests and feedback.

    def rate_limit(self, identity: str) -> str:
        return f"{self.prefix}rl:{identity}"

    @property
    def feedback(self) -> str:
        return f"{self.prefix}feedback"

    # Access: scoped API keys and the audit trail.

    def api_key(self, digest: str) -> str:
        return f"{self.prefix}apikey:{digest}"

    @property
    def api_keys(self) -> str:
        return f"{self.prefix}apikeys"

    @property
    def audit(self) -> str:
        return f"{self.prefix}audit"

    # Experiments and usage (``state.experiments``, ``state.usage``): durable, in the jobs' Redis.

    def experiment(self, name: str) -> str:
        return f"{self.prefix}experiment:{{{name}}}"

    def experiment_arm(self, name: str, arm: str) -> str:
        return f"{self.experiment(name)}:arm:{arm}"

    @property
    def experiments(self) -> str:
        return f"{self.prefix}experiments"

    def usage(self, day: str) -> str:
        """A UTC day's usage counters (``day``: ``YYYY-MM-DD``)."""
        return f"{self.prefix}usage:{day}"

    # Ingestion jobs (``jobs.store``).

    def job(self, job_id: str) -> str:
        return f"{self.prefix}job:{{{job_id}}}"

    def job_docs(self, job_id: str) -> str:
        return f"{self.job(job_id)}:docs"

    def job_open(self, job_id: str) -> str:
        return f"{self.job(job_id)}:open"

    def job_deliveries(self, job_id: str) -> str:
        return f"{self.job(job_id)}:deliveries"

    def job_solo(self, job_id: str) -> str:
        return f"{self.job(job_id)}:solo"

    def job_active(self, job_id: str) -> str:
        return f"{self.job(job_id)}:active"

    def job_lease(self, job_id: str, doc_id: str) -> str:
        return f"{self.job(job_id)}:lease:{doc_id}"

    def legacy_job(self, job_id: str) -> str:
        """A job's record as written before hash tags (read only, by ``jobs.store``)."""
        return f"{self.prefix}job:{job_id}"

    def legacy_job_docs(self, job_id: str) -> str:
        return f"{self.legacy_job(job_id)}:docs"

    @property
    def jobs(self) -> str:
        return f"{self.prefix}jobs"

    @property
    def open_jobs(self) -> str:
        return f"{self.prefix}jobs:open"

    def consumers(self, queue: str) -> str:
        return f"{self.prefix}consumers:{queue}"

    def runner(self, owner: str) -> str:
        """The lease of in-process runner ``owner``."""
        return f"{self.prefix}runner:{owner}"
