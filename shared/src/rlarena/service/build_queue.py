"""Run the build queue: claim pending builds up to the cap and hand each to the build backend.

The steps of a build live in `builds`; the Kubernetes Job events that end a build on the cluster in
`build_jobs`. This module sits above both, so neither imports the other's caller.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rlarena.adapters.builders.base import BuildInfrastructureError, BuildTicket
from rlarena.errors import EventRetry
from rlarena.service import build_jobs, builds
from rlarena.service.builds import BuildsPlatform

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueRun:
    started: int
    finished: int


def run_queue(platform: BuildsPlatform, *, max_builds: int = 100) -> QueueRun:
    """Start pending builds up to the concurrency cap; a synchronous backend runs them here."""
    if platform.settings.use_k8s:
        # Builds on Kubernetes end by Job events; catch up on any that were missed first, so their
        # slots are free before new builds are claimed.
        build_jobs.reconcile_jobs(platform)
    builds.requeue_stale_builds(platform)
    started = finished = 0
    while started < max_builds:
        ticket = builds.claim_next(platform)
        if ticket is None:
            break
        started += 1
        try:
            outcome = platform.builder.build(ticket, _Progress(platform, ticket))
        except BuildInfrastructureError as error:
            builds.handle_infrastructure_failure(platform, ticket, str(error))
            raise EventRetry(f"build of {ticket.submission_id} hit an infrastructure error") from error
        if outcome is not None:
            builds.finish_build(platform, ticket, outcome)
            finished += 1
    return QueueRun(started=started, finished=finished)


@dataclass(frozen=True)
class _Progress:
    """Records what the backend reports of one attempt (the `BuildProgress` a builder is given)."""

    platform: BuildsPlatform
    ticket: BuildTicket

    def validating(self, message: str) -> None:
        builds.mark_validating(self.platform, self.ticket, message)

    def job_started(self, job_name: str) -> None:
        builds.record_job(self.platform, self.ticket, job_name)


def handle_job_event(platform: BuildsPlatform, job: Mapping[str, Any]) -> None:
    """Apply one Job's state; after a Job that ends an attempt, start what waits in the queue."""
    if build_jobs.apply_job_event(platform, job):
        # A build slot is free, or an attempt is pending again. Also on a duplicate of the event:
        # if this run fails (EventRetry), the redelivery must wake the queue once more.
        run_queue(platform)


def catch_up(platform: BuildsPlatform) -> None:
    """The periodic tick: reconcile our Jobs (on Kubernetes), requeue lost builds, start pending ones.

    `run_queue` does all three; an upload event only wakes it when something was uploaded, so without
    the tick a missed Job event or a build queued behind a full cap would wait for the next upload.
    """
    run = run_queue(platform)
    if run.started:
        log.info("periodic catch-up started %d queued build(s)", run.started)
