"""The ratings function: consumes dev.rlarena.match.finished (Trigger `ratings-match-finished`)."""

from __future__ import annotations

from cloudevents.http import CloudEvent

from rlarena import runtime
from rlarena.events.catalogue import EventType, MatchFinished, parse_payload
from rlarena.events.targets import expect_type
from rlarena.service import ratings


def on_match_finished(event: CloudEvent) -> None:
    expect_type(event, EventType.MATCH_FINISHED)
    ratings.apply_result(runtime.platform(), parse_payload(event, MatchFinished))
