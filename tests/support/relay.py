"""Fakes and event makers for the WebSocket relay's tests."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any

from cloudevents.http import CloudEvent

from rlarena.errors import ServiceUnavailable
from rlarena.events.catalogue import (
    BuildFailed,
    BuildStarted,
    BuildSucceeded,
    EventType,
    MatchScheduled,
    Payload,
    RatingChange,
    RatingUpdated,
    Source,
    SubmissionUploaded,
    make_event,
)
from rlarena.relay.messages import MatchFacts


class FakeDirectory:
    """Owners and matches from dicts; counts lookups so tests can see what was asked."""

    def __init__(self) -> None:
        self.agents: dict[uuid.UUID, uuid.UUID] = {}
        self.matches: dict[uuid.UUID, MatchFacts] = {}
        self.lookups = 0
        self.down = False

    def owners(self, agent_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
        self._ask()
        return {agent: self.agents[agent] for agent in agent_ids if agent in self.agents}

    def match(self, match_id: uuid.UUID) -> MatchFacts | None:
        self._ask()
        return self.matches.get(match_id)

    def add_match(self, *, public: bool = True) -> MatchFacts:
        facts = MatchFacts(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), public)
        self.agents[facts.agent1_id] = facts.owner1_id
        self.agents[facts.agent2_id] = facts.owner2_id
        return facts

    def _ask(self) -> None:
        self.lookups += 1
        if self.down:
            raise ServiceUnavailable("the database is unavailable; try again shortly")


def build_event(
    event_type: EventType = EventType.BUILD_STARTED,
    *,
    user_id: uuid.UUID | None = None,
    submission_id: uuid.UUID | None = None,
    status: str = "building",
    message: str | None = "build started",
    time: datetime | None = None,
    event_id: str | None = None,
) -> CloudEvent:
    common: dict[str, Any] = {
        "submission_id": submission_id or uuid.uuid4(),
        "agent_id": uuid.uuid4(),
        "user_id": user_id or uuid.uuid4(),
        "version": 1,
        "status": status,
        "message": message,
    }
    payload: Payload
    if event_type is EventType.SUBMISSION_UPLOADED:
        payload = SubmissionUploaded(**common, object_key="k", build_attempt=1)
    elif event_type is EventType.BUILD_STARTED:
        payload = BuildStarted(**common, build_attempt=1)
    elif event_type is EventType.BUILD_SUCCEEDED:
        payload = BuildSucceeded(**common, environment_id="pong", image_url="registry/agent:v1")
    else:
        payload = BuildFailed(**common, error_message="agent.py line 3: SyntaxError")
    event = make_event(event_type, Source.BUILDER, payload, event_id=event_id)
    if time is not None:
        event["time"] = time.isoformat()
    return event


def scheduled(facts: MatchFacts, match_id: uuid.UUID | None = None) -> CloudEvent:
    payload = MatchScheduled(
        match_id=match_id or uuid.uuid4(), environment_id="pong", agent1_id=facts.agent1_id, agent2_id=facts.agent2_id
    )
    return make_event(EventType.MATCH_SCHEDULED, Source.MATCHMAKER, payload)


def rating_updated(facts: MatchFacts, match_id: uuid.UUID, *, rated: bool = True) -> CloudEvent:
    changes = [
        RatingChange(agent_id=facts.agent1_id, user_id=facts.owner1_id, elo_before=1500, elo_after=1520, elo_change=20),
        RatingChange(
            agent_id=facts.agent2_id, user_id=facts.owner2_id, elo_before=1500, elo_after=1480, elo_change=-20
        ),
    ]
    payload = RatingUpdated(
        match_id=match_id,
        environment_id="pong",
        winner_id=facts.agent1_id,
        agent1_score=1.0,
        agent2_score=0.0,
        changes=changes if rated else [],
    )
    return make_event(EventType.RATING_UPDATED, Source.RATINGS, payload)
