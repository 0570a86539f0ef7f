"""What the relay sends for each platform event, and to whom.

`read` checks an event against the catalogue; `messages_for` turns its payload into messages:
private ones addressed to users (the owners of the submission or of the agents that play), public
ones to channels (`leaderboard:<environmentId>`, `agent:<agentId>`, public matches only). Match
events name agents, not users, so their owners come from a `Directory`.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from cloudevents.http import CloudEvent

from rlarena.domain.statuses import MatchStatus, SubmissionStatus
from rlarena.errors import EventRejected
from rlarena.events.catalogue import (
    BuildFailed,
    BuildStarted,
    BuildSucceeded,
    EventType,
    MatchFailed,
    MatchScheduled,
    MatchStarted,
    Payload,
    RatingUpdated,
    SubmissionEvent,
    SubmissionUploaded,
    parse_payload,
)
from rlarena.relay.protocol import agent_channel, encode, leaderboard_channel

# The event types the relay consumes (its Triggers), with their payload models.
RELAYED: dict[str, type[Payload]] = {
    EventType.SUBMISSION_UPLOADED.value: SubmissionUploaded,
    EventType.BUILD_STARTED.value: BuildStarted,
    EventType.BUILD_SUCCEEDED.value: BuildSucceeded,
    EventType.BUILD_FAILED.value: BuildFailed,
    EventType.MATCH_SCHEDULED.value: MatchScheduled,
    EventType.MATCH_STARTED.value: MatchStarted,
    EventType.MATCH_FAILED.value: MatchFailed,
    EventType.RATING_UPDATED.value: RatingUpdated,
}


@dataclass(frozen=True)
class Outbound:
    """One message and its audience: these users' connections and these channels' subscribers."""

    type: str
    payload: dict[str, Any]
    users: frozenset[uuid.UUID] = field(default_factory=frozenset)
    channels: frozenset[str] = field(default_factory=frozenset)

    def encode(self) -> str:
        return encode(self.type, self.payload)


@dataclass(frozen=True)
class MatchFacts:
    """What never changes about a match: who plays, who owns them, whether anyone may watch."""

    agent1_id: uuid.UUID
    agent2_id: uuid.UUID
    owner1_id: uuid.UUID
    owner2_id: uuid.UUID
    is_public: bool


class Directory(Protocol):
    def owners(self, agent_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
        """agent id -> owner's user id, for the agents that exist."""
        ...

    def match(self, match_id: uuid.UUID) -> MatchFacts | None: ...


def read(event: CloudEvent) -> Payload:
    """The event's payload; EventRejected (never redelivered) for a type the relay does not relay."""
    model = RELAYED.get(str(event["type"]))
    if model is None:
        raise EventRejected(f"the relay does not relay {event['type']} events")
    return parse_payload(event, model)


def needs_directory(payload: Payload) -> bool:
    """Whether translating `payload` may ask the directory (build events carry their user)."""
    return not isinstance(payload, SubmissionEvent)


def subject_of(payload: Payload) -> str:
    """What the event is about, so a status older than one already sent can be recognised."""
    if isinstance(payload, SubmissionEvent):
        return f"submission:{payload.submission_id}"
    if isinstance(payload, MatchScheduled | MatchStarted | MatchFailed | RatingUpdated):
        return f"match:{payload.match_id}"
    raise EventRejected(f"the relay has no message for {type(payload).__name__}")


def messages_for(payload: Payload, directory: Directory) -> list[Outbound]:
    if isinstance(payload, SubmissionEvent):
        return _build_status(payload)
    if isinstance(payload, MatchScheduled):
        return _announced("match_created", payload, directory, MatchStatus.PENDING, isRated=payload.is_rated)
    if isinstance(payload, MatchStarted):
        started_at = payload.started_at.isoformat().replace("+00:00", "Z")
        return _announced("match_started", payload, directory, MatchStatus.RUNNING, startedAt=started_at)
    if isinstance(payload, MatchFailed):
        return _match_failed(payload, directory)
    if isinstance(payload, RatingUpdated):
        return _match_completed(payload, directory)
    raise EventRejected(f"the relay has no message for {type(payload).__name__}")


# -- builds ----------------------------------------------------------------------------------------


def _build_status(payload: SubmissionEvent) -> list[Outbound]:
    message = payload.message
    if isinstance(payload, BuildFailed):
        message = message or payload.error_message
    status = Outbound(
        "build_status",
        {
            "submissionId": str(payload.submission_id),
            "agentId": str(payload.agent_id),
            "version": payload.version,
            "status": payload.status,
            "message": message,
            "imageUrl": payload.image_url if isinstance(payload, BuildSucceeded) else None,
        },
        users=frozenset({payload.user_id}),
    )
    if isinstance(payload, BuildSucceeded) and payload.status == SubmissionStatus.ACTIVE:
        # A newly active version may put the agent on its environment's leaderboard.
        update = Outbound(
            "leaderboard_update",
            {"environmentId": payload.environment_id, "reason": "agent_activated", "agentId": str(payload.agent_id)},
            channels=frozenset({leaderboard_channel(payload.environment_id)}),
        )
        return [status, update]
    return [status]


# -- matches ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Audience:
    facts: MatchFacts | None
    users: frozenset[uuid.UUID]
    channels: frozenset[str]

    @property
    def players(self) -> dict[str, str | None]:
        facts = self.facts
        return {
            "agent1Id": str(facts.agent1_id) if facts else None,
            "agent2Id": str(facts.agent2_id) if facts else None,
        }


def _audience(directory: Directory, match_id: uuid.UUID, named: Iterable[uuid.UUID] = ()) -> _Audience:
    """The players' owners, privately; each player's channel too when the match is public."""
    facts = directory.match(match_id)
    if facts is None:  # not in the database (yet): tell the owners of the agents the event names
        return _Audience(None, frozenset(directory.owners(set(named)).values()), frozenset())
    players = (facts.agent1_id, facts.agent2_id)
    channels = frozenset(agent_channel(agent) for agent in players) if facts.is_public else frozenset()
    return _Audience(facts, frozenset({facts.owner1_id, facts.owner2_id}), channels)


def _announced(
    kind: str, payload: MatchScheduled | MatchStarted, directory: Directory, status: MatchStatus, **extra: object
) -> list[Outbound]:
    """match_created and match_started: the event names both players."""
    audience = _audience(directory, payload.match_id, (payload.agent1_id, payload.agent2_id))
    body = {
        "matchId": str(payload.match_id),
        "environmentId": payload.environment_id,
        "agent1Id": str(payload.agent1_id),
        "agent2Id": str(payload.agent2_id),
        **extra,
        "status": status.value,
    }
    return [Outbound(kind, body, audience.users, audience.channels)]


def _match_failed(payload: MatchFailed, directory: Directory) -> list[Outbound]:
    audience = _audience(directory, payload.match_id)
    body = {
        "matchId": str(payload.match_id),
        "environmentId": payload.environment_id,
        **audience.players,
        "errorMessage": payload.error_message,
        "status": MatchStatus.FAILED.value,
    }
    return [Outbound("match_failed", body, audience.users, audience.channels)]


def _match_completed(payload: RatingUpdated, directory: Directory) -> list[Outbound]:
    """From rating.updated, so the Elo changes are known; an unrated match has none."""
    audience = _audience(directory, payload.match_id, (change.agent_id for change in payload.changes))
    changes = [
        {
            "agentId": str(change.agent_id),
            "eloBefore": change.elo_before,
            "eloAfter": change.elo_after,
            "eloChange": change.elo_change,
        }
        for change in payload.changes
    ]
    by_agent = {change.agent_id: change.elo_change for change in payload.changes}
    facts = audience.facts
    replay = f"/api/v1/matches/{payload.match_id}/replay"
    body = {
        "matchId": str(payload.match_id),
        "environmentId": payload.environment_id,
        **audience.players,
        "winnerId": str(payload.winner_id) if payload.winner_id else None,
        "agent1Score": payload.agent1_score,
        "agent2Score": payload.agent2_score,
        "agent1EloChange": by_agent.get(facts.agent1_id) if facts else None,
        "agent2EloChange": by_agent.get(facts.agent2_id) if facts else None,
        "eloChanges": changes,
        "isRated": bool(changes),
        "replayUrl": replay,
        "replayHtmlUrl": f"{replay}?format=html",
        "status": MatchStatus.COMPLETED.value,
    }
    users = audience.users | {change.user_id for change in payload.changes}
    completed = Outbound("match_completed", body, users, audience.channels)
    if not changes:
        return [completed]
    update = Outbound(
        "leaderboard_update",
        {
            "environmentId": payload.environment_id,
            "reason": "match_rated",
            "matchId": str(payload.match_id),
            "changes": changes,
        },
        channels=frozenset({leaderboard_channel(payload.environment_id)}),
    )
    return [completed, update]
