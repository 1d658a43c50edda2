"""The job store's own tests (create, move a document, cancel, claim, leases, the in-process runner), run
again over a Redis Cluster and a Sentinel-watched master: the same bodies as ``tests/unit/jobs``, imported,
with ``store`` built here on each topology. A script or transaction whose keys spanned slots would fail
on the cluster with CROSSSLOT.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from jobs.store import JobStore
from tests.integration.topologies.conftest import RedisTarget, delete_prefix, url_of
from tests.support.jobs import ScriptedPipeline
from tests.unit.jobs.test_document import (
    test_a_cancel_that_lands_first_wins,
    test_a_document_that_keeps_killing_its_runner_fails_as_poison,
    test_a_duplicate_delivery_writes_nothing,
    test_a_job_whose_every_document_failed_ends_failed_and_says_so,
    test_a_permanent_failure_fails_the_document_and_the_job_goes_on,
    test_a_transient_failure_asks_for_a_retry_then_fails_with_its_reason,
    test_the_last_document_closes_the_job_and_removes_its_spool,
)
from tests.unit.jobs.test_leases import (
    test_a_document_whose_worker_died_is_handed_on_once,
    test_in_process_and_finished_jobs_are_not_swept,
)
from tests.unit.jobs.test_runner import (
    test_a_document_in_progress_when_the_runner_died_counts_as_a_crash,
    test_a_job_runs_every_document_retries_the_flaky_one_and_fails_the_bad_ones,
    test_a_live_runner_keeps_its_jobs_and_only_one_runner_claims_an_orphan,
    test_a_stop_finishes_the_current_document_and_the_next_runner_resumes_the_rest,
)
from tests.unit.jobs.test_store import (
    test_a_job_is_listed_while_open_and_unlisted_once_closed_or_cancelled,
    test_a_job_recorded_before_the_hash_tags_is_still_shown,
    test_of_two_runners_claiming_an_orphan_only_the_first_gets_it,
)

REUSED = (
    test_a_cancel_that_lands_first_wins, test_a_document_that_keeps_killing_its_runner_fails_as_poison,
    test_a_duplicate_delivery_writes_nothing, test_a_job_whose_every_document_failed_ends_failed_and_says_so,
    test_a_permanent_failure_fails_the_document_and_the_job_goes_on,
    test_a_transient_failure_asks_for_a_retry_then_fails_with_its_reason,
    test_the_last_document_closes_the_job_and_removes_its_spool, test_a_document_whose_worker_died_is_handed_on_once,
    test_in_process_and_finished_jobs_are_not_swept, test_a_document_in_progress_when_the_runner_died_counts_as_a_crash,
    test_a_job_runs_every_document_retries_the_flaky_one_and_fails_the_bad_ones,
    test_a_live_runner_keeps_its_jobs_and_only_one_runner_claims_an_orphan,
    test_a_stop_finishes_the_current_document_and_the_next_runner_resumes_the_rest,
    test_a_job_is_listed_while_open_and_unlisted_once_closed_or_cancelled,
    test_a_job_recorded_before_the_hash_tags_is_still_shown,
    test_of_two_runners_claiming_an_orphan_only_the_first_gets_it,
)  # imported to be collected here, against the fixtures below


@pytest.fixture(params=["cluster", "sentinel"])
def store(request: pytest.FixtureRequest) -> Iterator[JobStore]:
    target = RedisTarget(request.param, url_of(request.param, request), f"t{uuid.uuid4().hex[:8]}:")
    client = target.endpoint.client()
    try:
        yield JobStore(client, prefix=target.prefix, ttl_s=3600)
        delete_prefix(client, target.prefix)
    finally:
        client.close()


@pytest.fixture
def pipeline() -> ScriptedPipeline:
    return ScriptedPipeline()
