"""Builds on Kubernetes, from the Job side: what to do when a build, validation or scan Job finishes.

Job status arrives as `dev.knative.apiserver.resource.update` events from an ApiServerSource (the
Job's JSON, one event per change, many per Job) and, as a safety net, from `reconcile_jobs`, which
lists our Jobs and applies the same rules (a missed or dead-lettered event is caught on the next
queue run or tick).

No `processed_events` row is claimed for these events, on purpose: their ids are not stable (each
update is a new event, and a resync re-sends the same state under a new id), so a claim would
dedupe nothing. Instead every effect is idempotent on its own:
- a finished build Job starts validation (and, with TRIVY_ENABLED, the image scan beside it) by
  creating Jobs whose names are fixed per attempt, so a duplicate is a 409, and moves the row
  building -> validating by compare-and-set;
- a finished validation Job, or the scan Job that the validation waited for, calls `finish_build`,
  a compare-and-set on (submission, attempt, running status): only the first report of an attempt
  changes anything. Whichever of the two ends last concludes; each re-reads the other Job, so at
  least one of them sees both finished;
- the build Pod's name is recorded from the build Job's events while it runs and when it ends
  (a plain write of the same value again);
- events about an attempt that is no longer the running one (`ticket_for` is None) are ignored,
  and an event is checked against the Job as it is now (same UID, still there) before it is acted
  on, so a late event about a deleted Job cannot touch the attempt that replaced it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rlarena.adapters.builders.base import BuildInfrastructureError, BuildTicket
from rlarena.adapters.builders.kaniko_context import ROLE_BUILD, ROLE_VALIDATE, job_key, job_name
from rlarena.adapters.kubernetes_status import JobState, job_state, labels_of, name_of, uid_of
from rlarena.errors import EventRetry
from rlarena.service import builds
from rlarena.service.builds import BuildsPlatform

if TYPE_CHECKING:
    from rlarena.adapters.builders.kaniko import KanikoBuilder, Verdict

log = logging.getLogger(__name__)


def apply_job_event(platform: BuildsPlatform, job: Mapping[str, Any]) -> bool:
    """Apply one Job's state; True if the Job ends an attempt (a build slot may be free)."""
    try:
        _apply(platform, job, current=False)
    except BuildInfrastructureError as error:
        # Nothing was recorded: the broker redelivers, and the reconciler would catch it anyway.
        raise EventRetry(f"Job {name_of(job)}: {error}") from error
    return _ends_an_attempt(job)


def reconcile_jobs(platform: BuildsPlatform) -> int:
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


def _apply(platform: BuildsPlatform, job: Mapping[str, Any], *, current: bool) -> bool:
    """True when this attempt ended (active or failed) or was queued again."""
    key = job_key(labels_of(job))
    if key is None:
        return False  # not ours
    running = job_state(job) is JobState.RUNNING
    if running and (key.role != ROLE_BUILD or not _has_pods(job)):
        return False  # most updates of a Job are progress; only the build Pod's start is worth a look
    ticket = builds.ticket_for(platform, key.submission_id, key.attempt)
    backend = _backend(platform)
    if ticket is None or backend is None:
        return False  # the attempt is over, or a later one runs: late and duplicate events end here
    if running:
        _note_build_pod(backend, platform, ticket, job)
        return False
    now = job if current else _as_it_is_now(backend, job)
    verdict = _verdict(backend, platform, ticket, key.role, now) if now is not None else None
    if verdict is None:
        return False
    if verdict.outcome is not None:
        builds.finish_build(platform, ticket, verdict.outcome)
    else:
        # Free the Job names first: the attempt, queued again, creates its Jobs afresh.
        backend.discard(ticket)
        builds.handle_infrastructure_failure(platform, ticket, verdict.infrastructure or "the build Job failed")
    return True


def _as_it_is_now(backend: KanikoBuilder, job: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The Job an event describes, read again; None when it is gone (deleted to run the attempt again)."""
    now = backend.job(name_of(job))
    if now is None or (uid_of(job) and uid_of(now) and uid_of(now) != uid_of(job)):
        return None
    return now


def _verdict(
    backend: KanikoBuilder, platform: BuildsPlatform, ticket: BuildTicket, role: str, job: Mapping[str, Any]
) -> Verdict | None:
    """How a finished Job ends the attempt, or None when the attempt goes on (validating, or scanning)."""
    if role == ROLE_BUILD:
        _note_build_pod(backend, platform, ticket, job)
        if job_state(job) is JobState.SUCCEEDED:
            names = backend.start_checks(ticket, job)
            builds.mark_validating(platform, ticket, "image built; " + _checking(names))
            return None
        return backend.conclude_build(ticket, job)
    # The validation Job decides, with the scan started beside it: whichever ends last concludes.
    validation = job if role == ROLE_VALIDATE else backend.job(_validation_job_name(ticket))
    if validation is None or job_state(validation) is JobState.RUNNING:
        return None
    return backend.conclude_checks(ticket, validation)  # None while the scan still runs


def _checking(names: list[str]) -> str:
    validation, *scan = names
    text = f"validating it with Job {validation}"
    return text + (f" and scanning it with Job {scan[0]}" if scan else "")


def _has_pods(job: Mapping[str, Any]) -> bool:
    status = job.get("status")
    if not isinstance(status, Mapping):
        return False
    return any(isinstance(status.get(field), int) and status[field] > 0 for field in ("active", "ready"))


def _validation_job_name(ticket: BuildTicket) -> str:
    return job_name(ROLE_VALIDATE, ticket.submission_id, ticket.version, ticket.attempt)


def _note_build_pod(
    backend: KanikoBuilder, platform: BuildsPlatform, ticket: BuildTicket, job: Mapping[str, Any]
) -> None:
    """Record the build Job's Pod on the submission (buildPodName); best effort, never a reason to retry."""
    try:
        pod = backend.build_pod_name(job)
    except BuildInfrastructureError as error:
        log.info("could not list the Pods of Job %s: %s", name_of(job), error)
        return
    if pod is not None:
        builds.record_pod(platform, ticket, name_of(job), pod)


def _ends_an_attempt(job: Mapping[str, Any]) -> bool:
    """A finished validation Job, or a failed build Job (a built image goes on to validation)."""
    key = job_key(labels_of(job))
    state = job_state(job)
    if key is None or state is JobState.RUNNING:
        return False
    return key.role != ROLE_BUILD or state is JobState.FAILED


def _backend(platform: BuildsPlatform) -> KanikoBuilder | None:
    if not platform.settings.use_k8s:
        return None
    # Imported here: it loads the kubernetes client, which only Kubernetes builds need.
    from rlarena.adapters.builders.kaniko import KanikoBuilder

    builder = platform.builder
    return builder if isinstance(builder, KanikoBuilder) else None
