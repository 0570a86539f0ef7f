"""The build pipeline's steps: pending -> building -> validating -> active | failed.

The queue is the submissions table itself: a build is claimed by moving its row from `pending`
to `building` (highest priority, then oldest) while fewer than BUILD_CONCURRENCY builds run. An
upload event only wakes the queue, so a redelivered event, a duplicate or one arriving out of
order never starts a second build. Infrastructure failures put the build back in the queue up to
three times; the user's own mistakes fail it at once with a message saying what to fix.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any, Protocol

from rlarena.adapters.builders.base import Builder, BuildOutcome, BuildTicket
from rlarena.adapters.db import build_queries as queries
from rlarena.adapters.db.models import Agent, Submission
from rlarena.adapters.db.submission_queries import get_agent, get_submission
from rlarena.adapters.db.unit_of_work import UnitOfWork
from rlarena.domain.statuses import SubmissionStatus
from rlarena.domain.texts import cap_optional
from rlarena.events.catalogue import (
    BuildFailed,
    BuildStarted,
    BuildSucceeded,
    EventType,
    Payload,
    Source,
    make_event,
)
from rlarena.service.ports import PlatformCore
from rlarena.service.submissions import activate_if_newest, record_transition

log = logging.getLogger(__name__)

MAX_INFRA_FAILURES = 6
INFRA_FIRST_BACKOFF = timedelta(seconds=15)
RUNNING = (SubmissionStatus.BUILDING.value, SubmissionStatus.VALIDATING.value)


class BuildsPlatform(PlatformCore, Protocol):
    """What the build queue needs of the platform (`bootstrap.Platform` is one)."""

    @property
    def builder(self) -> Builder: ...


def claim_next(platform: BuildsPlatform) -> BuildTicket | None:
    now = platform.clock()
    with platform.uow() as uow:
        session = uow.session
        queries.lock_queue(session)
        running = queries.count_in_statuses(session, RUNNING)
        if running >= platform.settings.build_concurrency:
            return None
        submission = queries.next_pending(session, SubmissionStatus.PENDING.value, now)
        if submission is None:
            return None
        agent = get_agent(session, submission.agent_id)
        if agent is None or agent.deleted_at is not None:
            submission.status = SubmissionStatus.FAILED.value
            submission.error_message = "the agent was deleted"
            record_transition(uow, submission, SubmissionStatus.FAILED, "the agent was deleted", now)
            uow.commit()
            return claim_next(platform)
        submission.status = SubmissionStatus.BUILDING.value
        submission.vulnerabilities = None  # an earlier attempt's scan says nothing about this one
        submission.build_started_at = now
        submission.updated_at = now
        record_transition(uow, submission, SubmissionStatus.BUILDING, f"build attempt {submission.build_attempt}", now)
        ticket = _ticket(submission, agent)
        _publish(
            uow,
            EventType.BUILD_STARTED,
            BuildStarted(
                **_addressed(ticket),
                status=SubmissionStatus.BUILDING.value,
                message="build started",
                build_attempt=ticket.attempt,
            ),
            f"build-started-{ticket.submission_id}-{ticket.attempt}",
        )
        uow.commit()
    return ticket


def ticket_for(platform: BuildsPlatform, submission_id: uuid.UUID, attempt: int) -> BuildTicket | None:
    """The ticket of a build attempt that is still running, for backends that report by events."""
    with platform.uow() as uow:
        submission = get_submission(uow.session, submission_id)
        if submission is None or submission.build_attempt != attempt or submission.status not in RUNNING:
            return None
        agent = get_agent(uow.session, submission.agent_id)
        if agent is None:
            return None
        return _ticket(submission, agent)


def record_job(platform: BuildsPlatform, ticket: BuildTicket, job_name: str) -> None:
    """Remember which Kubernetes Job builds this attempt (shown as buildJobName in build-status).

    A new Job name forgets the previous Job's Pod; the same name again (a redelivery) keeps it.
    """
    with platform.uow() as uow:
        queries.set_build_job(uow.session, ticket.submission_id, ticket.attempt, job_name)
        uow.commit()


def record_pod(platform: BuildsPlatform, ticket: BuildTicket, job_name: str, pod_name: str) -> None:
    """Remember the Pod of the attempt's build Job (buildPodName), if that Job is still the attempt's."""
    with platform.uow() as uow:
        queries.set_build_pod(uow.session, ticket.submission_id, ticket.attempt, job_name, pod_name)
        uow.commit()


def mark_validating(platform: BuildsPlatform, ticket: BuildTicket, message: str) -> None:
    """The code is in place and is being proven (the probe now, the validation match later)."""
    now = platform.clock()
    with platform.uow() as uow:
        moved = _move(uow, ticket, (SubmissionStatus.BUILDING.value,), SubmissionStatus.VALIDATING, now)
        if moved is not None:
            record_transition(uow, moved, SubmissionStatus.VALIDATING, message, now)
            uow.commit()


def finish_build(platform: BuildsPlatform, ticket: BuildTicket, outcome: BuildOutcome) -> None:
    """Record the end of an attempt once; later reports of the same attempt change nothing.

    The error often quotes the agent (its exception in the validation match): it is capped before
    it is stored or announced.
    """
    now = platform.clock()
    error = cap_optional(outcome.error)
    with platform.uow() as uow:
        session = uow.session
        submission = _move(
            uow, ticket, RUNNING, SubmissionStatus.ACTIVE if outcome.ok else SubmissionStatus.FAILED, now
        )
        became_active = False
        if submission is None:
            log.info("ignoring a late report for %s attempt %d", ticket.submission_id, ticket.attempt)
            return
        submission.build_log = outcome.log
        submission.build_finished_at = now
        submission.vulnerabilities = outcome.vulnerabilities
        if outcome.ok:
            submission.docker_image_url = outcome.image_url
            submission.error_message = None
            reason = f"built and validated: {outcome.interface}"
            agent = get_agent(session, ticket.agent_id)
            if agent is not None and agent.deleted_at is None:
                became_active = activate_if_newest(uow, agent, submission, now, reason)
            else:  # deleted mid-build: built, but nobody's active version
                submission.status = SubmissionStatus.INACTIVE.value
                record_transition(uow, submission, SubmissionStatus.INACTIVE, f"{reason}; the agent was deleted", now)
            _publish(
                uow,
                EventType.BUILD_SUCCEEDED,
                BuildSucceeded(
                    **_addressed(ticket),
                    status=(SubmissionStatus.ACTIVE if became_active else SubmissionStatus.INACTIVE).value,
                    message=(
                        f"version {ticket.version} is active"
                        if became_active
                        else f"version {ticket.version} built and validated; it is not the agent's active version"
                    ),
                    environment_id=ticket.environment_id,
                    image_url=outcome.image_url,
                ),
                f"build-finished-{ticket.submission_id}-{ticket.attempt}",
            )
        else:
            submission.error_message = error
            record_transition(uow, submission, SubmissionStatus.FAILED, error, now)
            _publish(
                uow,
                EventType.BUILD_FAILED,
                BuildFailed(
                    **_addressed(ticket),
                    status=SubmissionStatus.FAILED.value,
                    message=error,
                    error_message=error or "the build failed",
                ),
                f"build-finished-{ticket.submission_id}-{ticket.attempt}",
            )
        uow.commit()


def handle_infrastructure_failure(platform: BuildsPlatform, ticket: BuildTicket, reason: str) -> None:
    """Queue the attempt again after a backoff, or give up after MAX_INFRA_FAILURES and say so."""
    now = platform.clock()
    log.warning("build %s attempt %d: infrastructure failure: %s", ticket.submission_id, ticket.attempt, reason)
    with platform.uow() as uow:
        submission = get_submission(uow.session, ticket.submission_id)
        if submission is None or submission.status not in RUNNING or submission.build_attempt != ticket.attempt:
            return
        submission.infra_failures += 1
        status, message = after_infrastructure_failure(submission.infra_failures, reason)
        submission.status = status.value
        if status is SubmissionStatus.FAILED:
            submission.error_message = message
            agent = get_agent(uow.session, submission.agent_id)
            addressed = _addressed(ticket if agent is None else _ticket(submission, agent))
            _publish(
                uow,
                EventType.BUILD_FAILED,
                BuildFailed(**addressed, status=status.value, message=message, error_message=message),
                f"build-finished-{ticket.submission_id}-{ticket.attempt}",
            )
        else:
            submission.build_not_before = now + infrastructure_backoff(submission.infra_failures)
        record_transition(uow, submission, status, message, now)
        submission.updated_at = now
        uow.commit()


def infrastructure_backoff(infra_failures: int) -> timedelta:
    """How long a build waits after its n-th infrastructure failure: 15 s, 30 s, 1, 2, 4 minutes.

    The five waits span about 7.5 minutes, so an outage of S3, the registry or the cluster's API of a
    few minutes delays builds instead of failing them.
    """
    wait: timedelta = INFRA_FIRST_BACKOFF * (1 << min(max(infra_failures - 1, 0), 16))
    return wait


def after_infrastructure_failure(infra_failures: int, reason: str) -> tuple[SubmissionStatus, str]:
    """Where an attempt goes after its `infra_failures`-th infrastructure failure, and the message saying why."""
    if infra_failures >= MAX_INFRA_FAILURES:
        return (
            SubmissionStatus.FAILED,
            "the build service failed repeatedly; nothing is wrong with your code as far as we know: rebuild later",
        )
    wait = int(infrastructure_backoff(infra_failures).total_seconds())
    return SubmissionStatus.PENDING, f"retrying in {wait} s after: {reason}"


def requeue_stale_builds(platform: BuildsPlatform) -> int:
    """A build that outlived BUILD_TIMEOUT lost its worker: count it as an infrastructure failure."""
    deadline = platform.clock() - platform.settings.build_timeout
    with platform.uow() as uow:
        stale = queries.started_before(uow.session, RUNNING, deadline)
        tickets = [
            BuildTicket(s.id, s.agent_id, uuid.UUID(int=0), "", s.version, s.build_attempt, s.source_key or "", "")
            for s in stale
        ]
    for ticket in tickets:
        handle_infrastructure_failure(platform, ticket, "the build did not finish in time")
    return len(tickets)


def _ticket(submission: Submission, agent: Agent) -> BuildTicket:
    return BuildTicket(
        submission_id=submission.id,
        agent_id=agent.id,
        user_id=agent.user_id,
        environment_id=agent.environment_id,
        version=submission.version,
        attempt=submission.build_attempt,
        source_key=submission.source_key or "",
        source_filename=submission.source_filename or "",
    )


def _move(
    uow: UnitOfWork, ticket: BuildTicket, from_statuses: tuple[str, ...], to: SubmissionStatus, now: datetime
) -> Submission | None:
    """Compare-and-set on (id, attempt, status): only the first report of an attempt moves it."""
    return queries.move_attempt(uow.session, ticket.submission_id, ticket.attempt, from_statuses, to=to.value, now=now)


def _addressed(ticket: BuildTicket) -> dict[str, Any]:
    """What every build event carries so the relay can address the owner."""
    return {
        "submission_id": ticket.submission_id,
        "agent_id": ticket.agent_id,
        "user_id": ticket.user_id,
        "version": ticket.version,
    }


def _publish(uow: UnitOfWork, event_type: EventType, payload: Payload, event_id: str) -> None:
    uow.publish(make_event(event_type, Source.BUILDER, payload, event_id=event_id))
