"""The matchmaker's CloudEvent target (Knative Service `matchmaker-events`).

One target, routed here by type, because every one of these events asks the same question of the
same queue: the PingSource tick (reap, then match every environment), a build that succeeded
(queue the agent and match its environment at once), a match that started (running), and a match
that finished or failed (free its agents for the next tick).
"""

from __future__ import annotations

from cloudevents.http import CloudEvent

from rlarena import runtime
from rlarena.errors import EventRejected
from rlarena.events.catalogue import BuildSucceeded, EventType, MatchFailed, MatchFinished, MatchStarted, parse_payload
from rlarena.service import match_lifecycle, matchmaking

CONSUMES = (
    EventType.PING,
    EventType.BUILD_SUCCEEDED,
    EventType.MATCH_STARTED,
    EventType.MATCH_FINISHED,
    EventType.MATCH_FAILED,
)


def on_event(event: CloudEvent) -> None:
    platform = runtime.platform()
    kind = event["type"]
    if kind == EventType.PING:
        matchmaking.tick(platform)
        platform.outbox.publish_due()  # events whose publication after their commit failed
    elif kind == EventType.BUILD_SUCCEEDED:
        built = parse_payload(event, BuildSucceeded)
        if matchmaking.enqueue(platform, built.agent_id):
            matchmaking.tick(platform, environment_id=built.environment_id)
    elif kind == EventType.MATCH_STARTED:
        match_lifecycle.mark_started(platform, parse_payload(event, MatchStarted))
    elif kind == EventType.MATCH_FINISHED:
        match_lifecycle.match_ended(platform, parse_payload(event, MatchFinished).match_id)
    elif kind == EventType.MATCH_FAILED:
        failed = parse_payload(event, MatchFailed)
        match_lifecycle.fail_match(platform, failed.match_id, failed.error_message, announce=False)
    else:
        raise EventRejected(f"the matchmaker does not consume {kind}")
