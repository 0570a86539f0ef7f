"""The ratings function's redeliveries: each ends at its claim, one statement, and changes nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest

from rlarena.bootstrap import Platform
from rlarena.events.publisher import RecordingPublisher
from tests.integration.test_ratings_events import deliver, finished
from tests.support.api import ApiClient
from tests.support.seed import activate, insert_match
from tests.support.statements import statements


def touching_tables(seen: list[str]) -> list[str]:
    """The statements that read or wrote a table (not the pool's ping, BEGIN or COMMIT)."""
    return [s for s in seen if re.match(r"\s*(INSERT|UPDATE|DELETE)\b", s, re.I) or re.search(r"\bFROM\b", s, re.I)]


@pytest.fixture
def two_agents(api: ApiClient, platform: Platform) -> tuple[str, str]:
    alice, bob = api.register(), api.register()
    a, b = api.create_agent(alice)["id"], api.create_agent(bob)["id"]
    activate(platform, a)
    activate(platform, b)
    return a, b


def test_a_redelivered_result_ends_at_its_claim(
    ratings_target: Any,
    api: ApiClient,
    platform: Platform,
    published: RecordingPublisher,
    two_agents: tuple[str, str],
) -> None:
    a, b = two_agents
    match_id = insert_match(platform, a, b)
    assert deliver(ratings_target, finished(match_id, a, b, winner=a, event_id="first")).status_code == 200
    rated = api.get(f"/api/v1/agents/{a}").json["agent"]
    announced = len(published.events)
    with statements(platform.engine) as seen:
        again = deliver(ratings_target, finished(match_id, a, b, winner=b, event_id="republished"))
    assert again.status_code == 200
    touched = touching_tables(seen)
    assert len(touched) == 1 and "processed_events" in touched[0]  # the claim, found taken
    assert api.get(f"/api/v1/agents/{a}").json["agent"] == rated
    assert len(published.events) == announced
