"""Builds on Kubernetes, from the Job side: what to do when a build or validation Job finishes.

Job status arrives as `dev.knative.apiserver.resource.update` events from an ApiServerSource (the
Job's JSON, one event per change, many per Job) and, as a safety net, from `reconcile_jobs`, which
lists our Jobs and applies the same rules (a missed or dead-lettered event is caught on the next
queue run or tick).

No `processed_events` row is claimed for these events, on purpose: their ids are not stable (each
update is a new event, and a resync re-sends the same state under a new id), so a claim would
dedupe nothing. Instead every effect is idempotent on its own:
- a finished build Job starts validation by creating a Job whose name is fixed per attempt, so a
  duplicate is a 409, and moves the row building -> validating by compare-and-set;
- a finished validation Job calls `finish_build`, a compare-and-set on (submission, attempt,
  running status): only the first report of an attempt changes anything;
- events about an attempt that is no longer the running one (`ticket_for` is None) are ignored,
  and an event is checked against the Job as it is now (same UID, still there) before it is acted
  on, so a late event about a deleted Job cannot touch the attempt that replaced it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rlarena.adapters.builders.base import BuildInfrastructureError
from rlarena.adapters.builders.job_status import JobState, job_state, labels_of, name_of, uid_of
from rlarena.adapters.builders.kaniko_context import ROLE_BUILD, job_key
from rlarena.bootstrap import Platform
from rlarena.errors import EventRetry
from rlarena.service import builds

if TYPE_CHECKING:
    from rlarena.adapters.builders.kaniko import KanikoBuilder

log = logging.getLogger(__name__)


def handle_job_event(platform: Platform, job: Mapping[str, Any]) -> None:
    """Apply one Job's state; after a Job that ends an attempt, start what waits in the queue."""
    try:
        _apply(platform, job, current=False)
    except BuildInfrastructureError as error:
        # Nothing was recorded: the broker redelivers, and the reconciler would catch it anyway.
        raise EventRetry(f"Job {name_of(job)}: {error}") from error
    if _ends_an_attempt(job):
        # A build slot is free, or an attempt is pending again. Also on a duplicate of the event:
        # if this run fails (EventRetry), the redelivery must wake the queue once more.
        builds.run_queue(platform)


def reconcile_jobs(platform: Platform) -> int:
    """List our Jobs and apply each one's state, as if its last event had just arrived.

    Returns how many attempts ended or were queued again. A Job that cannot be handled now is
    logged and left for the next run; an unreachable API server is logged too (the builds it
    affects fail on their own and are retried by the queue).
    """
    backend = _backend(platform)
    if backend is None:
        return 0
    try:
        jobs = backend.list_jobs()
    except BuildInfrastructureError as error:
        log.warning("could not reconcile build Jobs: %s", error)
        return 0
    ended = 0
    for job in jobs:
        try:
            ended += _apply(platform, job, current=True)
        except BuildInfrastructureError as error:
            log.warning("could not reconcile Job %s: %s", name_of(job), error)
    return ended


def _apply(platform: Platform, job: Mapping[str, Any], *, current: bool) -> bool:
    """True when this attempt ended (active or failed) or was queued again."""
    key = job_key(labels_of(job))
    if key is None or job_state(job) is JobState.RUNNING:
        return False  # not ours, or not finished: most updates of a Job are progress
    ticket = builds.ticket_for(platform, key.submission_id, key.attempt)
    if ticket is None:
        return False  # the attempt is over, or a later one runs: late and duplicate events end here
    backend = _backend(platform)
    if backend is None:
        return False
    if not current:
        now = backend.job(name_of(job))
        if now is None or (uid_of(job) and uid_of(now) and uid_of(now) != uid_of(job)):
            return False  # the Job the event describes is gone (deleted to run the attempt again)
        job = now
    state = job_state(job)
    if key.role == ROLE_BUILD:
        if state is JobState.SUCCEEDED:
            name = backend.start_validation(ticket, job)
            builds.mark_validating(platform, ticket, f"image built; validating it with Job {name}")
            return False
        verdict = backend.conclude_build(ticket, job)
    else:
        verdict = backend.conclude_validation(ticket, job)
    if verdict.outcome is not None:
        builds.finish_build(platform, ticket, verdict.outcome)
    else:
        # Free the Job names first: the attempt, queued again, creates its Jobs afresh.
        backend.discard(ticket)
        builds.handle_infrastructure_failure(platform, ticket, verdict.infrastructure or "the build Job failed")
    return True


def _ends_an_attempt(job: Mapping[str, Any]) -> bool:
    """A finished validation Job, or a failed build Job (a built image goes on to validation)."""
    key = job_key(labels_of(job))
    state = job_state(job)
    if key is None or state is JobState.RUNNING:
        return False
    return key.role != ROLE_BUILD or state is JobState.FAILED


def _backend(platform: Platform) -> KanikoBuilder | None:
    if not platform.settings.use_k8s:
        return None
    # Imported here: it loads the kubernetes client, which only Kubernetes builds need.
    from rlarena.adapters.builders.kaniko import KanikoBuilder

    builder = platform.builder
    return builder if isinstance(builder, KanikoBuilder) else None
