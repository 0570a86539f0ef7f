"""Clear results on SQLite and PostgreSQL, from a real game to the API.

Each match is played by the real executor service (sandboxed agents) into the platform's store;
its announcement is delivered to the ratings function as the broker would (twice: consumers are
idempotent). Then the match JSON (one match and every list), the rating history and the replay
(JSON and HTML) must name the agents, their versions, whether the match was rated, why it ended,
and each side's status: an opponent's crash is an ERROR naming it, not a normal-looking win.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from sqlalchemy import event, update

from rlarena.adapters.db.models import Match, Submission
from rlarena.bootstrap import Platform
from rlarena.events.catalogue import EventType
from rlarena.events.match_results import finished_payload
from rlarena.events.publisher import RecordingPublisher
from rlarena.executor.app import sandboxed_runner
from rlarena.executor.service import AgentEntry, ExecutorService, MatchOrder, Runner
from rlarena.sandbox.runtime_install import agent_python, install_runtime
from rlarena.service import match_lifecycle, ratings
from tests.support.agent_code import readable_agents
from tests.support.api import ApiClient, User
from tests.support.seed import activate, insert_match

FIRST_LEGAL = "def agent(observation, configuration):\n    return observation['action_mask'].index(1)\n"
# Plays one move, then divides by zero on its second.
CRASHER = (
    "def agent(observation, configuration):\n"
    "    if sum(observation['action_mask']) < 8:\n"
    "        1 / 0\n"
    "    return observation['action_mask'].index(1)\n"
)


class Play(Protocol):
    def __call__(self, match_id: str, first: str, second: str, first_code: str, second_code: str = ...) -> str: ...


@pytest.fixture(scope="module")
def code() -> Iterator[dict[str, Path]]:
    with readable_agents({"first-legal": FIRST_LEGAL, "crasher": CRASHER}, "rlarena-clear-results-") as folders:
        yield folders


@pytest.fixture(scope="module")
def real_run() -> Runner:
    return sandboxed_runner(install_runtime(agent_python(None)))


@pytest.fixture
def owner(api: ApiClient) -> User:
    return api.register()


@pytest.fixture
def play(platform: Platform, code: dict[str, Path], real_run: Runner, ratings_target: Any) -> Iterator[Play]:
    """Play a match between two agents' code on the real executor; deliver its announcement to the
    ratings function twice, as an at-least-once broker may. Returns the match id."""
    broker = RecordingPublisher()
    service = ExecutorService(real_run, broker, platform.store, max_concurrent=1, version="t")

    def run(match_id: str, first: str, second: str, first_code: str, second_code: str = "first-legal") -> str:
        with platform.uow() as uow:
            match = uow.session.get(Match, uuid.UUID(match_id))
            assert match is not None
            agents = (
                AgentEntry(first, code[first_code], "agent.py"),
                AgentEntry(second, code[second_code], "agent.py"),
            )
            order = MatchOrder(match_id, match.environment_id, agents, seed=5)
        service.submit(order, wait=True)
        (finished,) = [e for e in broker.events if e["type"] == EventType.MATCH_FINISHED and match_id in e["id"]]
        for _ in range(2):
            deliver(ratings_target, finished)
        return match_id

    yield run
    service.shutdown(grace_seconds=1)


def deliver(target: Any, cloud_event: CloudEvent) -> None:
    headers, body = to_binary(cloud_event)
    response = target.post("/", headers=headers, data=body)
    assert response.status_code < 300, response.get_data(as_text=True)


def versions(platform: Platform, first: str, second: str, numbers: tuple[int, int]) -> tuple[str, str]:
    """Each agent's active version, numbered as after a few uploads; their submission ids."""
    submissions = (activate(platform, first), activate(platform, second))
    with platform.uow() as uow:
        for submission, number in zip(submissions, numbers, strict=True):
            renumbered = update(Submission).where(Submission.id == uuid.UUID(submission)).values(version=number)
            uow.session.execute(renumbered)
        uow.commit()
    return submissions


def booked(platform: Platform, first: str, second: str, played: tuple[str, str], *, is_rated: bool = True) -> str:
    """A match between the agents, with the versions (submission ids) they play."""
    match_id = insert_match(platform, first, second, is_rated=is_rated)
    with platform.uow() as uow:
        uow.session.execute(
            update(Match)
            .where(Match.id == uuid.UUID(match_id))
            .values(agent1_submission_id=uuid.UUID(played[0]), agent2_submission_id=uuid.UUID(played[1]))
        )
        uow.commit()
    return match_id


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.json
    return body


def test_an_opponents_crash_reads_as_an_error_naming_it_everywhere(
    api: ApiClient, platform: Platform, owner: User, play: Play
) -> None:
    alpha = api.create_agent(owner, "alpha")["id"]
    crasher = api.create_agent(api.register(), "crasher")["id"]
    match_id = play(
        booked(platform, alpha, crasher, versions(platform, alpha, crasher, (3, 1))),
        alpha,
        crasher,
        "first-legal",
        "crasher",
    )

    match = ok(api.get(f"/api/v1/matches/{match_id}"))["match"]
    assert (match["agent1Name"], match["agent2Name"]) == ("alpha", "crasher")
    assert (match["agent1Version"], match["agent2Version"]) == (3, 1)
    assert match["isRated"] is True and match["status"] == "completed" and match["winnerId"] == alpha
    assert (match["agent1Status"], match["agent2Status"]) == ("OK", "ERROR")
    reason = match["endReason"]
    assert reason.startswith("ERROR by crasher: ") and "ZeroDivisionError" in reason
    assert crasher not in reason  # named, not by id

    # Every list of matches says the same.
    for path in (
        f"/api/v1/matches?agentId={alpha}",
        f"/api/v1/matches/agent/{crasher}",
        f"/api/v1/matches/replays?agentId={alpha}",
    ):
        key = "replays" if "replays" in path else "matches"
        (listed,) = ok(api.get(path))[key]
        assert listed == match

    # The rating history names the opponent and the result, on both sides.
    (won,) = ok(api.get(f"/api/v1/agents/{alpha}/rating-history"))["history"]
    (lost,) = ok(api.get(f"/api/v1/agents/{crasher}/rating-history"))["history"]
    assert (won["opponentId"], won["opponentName"], won["result"], won["score"]) == (crasher, "crasher", "win", 1.0)
    assert (lost["opponentId"], lost["opponentName"], lost["result"], lost["score"]) == (alpha, "alpha", "loss", 0.0)
    assert won["matchId"] == lost["matchId"] == match_id

    # The replay: names, versions and the end reason in its metadata, and on the HTML page itself.
    replay = ok(api.get(f"/api/v1/matches/{match_id}/replay?format=json"))
    metadata = replay["metadata"]
    assert metadata["agents"] == [alpha, crasher]  # as the executor wrote it
    assert metadata["agent_names"] == ["alpha", "crasher"] and metadata["agent_versions"] == [3, 1]
    assert metadata["end_reason"] == reason and metadata["agent_statuses"] == ["OK", "ERROR"]
    assert metadata["is_rated"] is True
    page = api.get(f"/api/v1/matches/{match_id}/replay?format=html").get_data(as_text=True)
    summary = f'<div class="summary" id="summary">{html.escape("alpha (v3) vs crasher (v1) | winner: alpha")}'
    assert summary in page
    assert html.escape(f"ended: {reason}") in page


def test_a_game_that_ran_its_course_ends_for_the_games_reason_and_an_unrated_one_says_so(
    api: ApiClient, platform: Platform, owner: User, play: Play
) -> None:
    first = api.create_agent(owner, "x-player")["id"]
    second = api.create_agent(owner, "o-player")["id"]
    unrated = booked(platform, first, second, versions(platform, first, second, (1, 2)), is_rated=False)
    match_id = play(unrated, first, second, "first-legal")
    match = ok(api.get(f"/api/v1/matches/{match_id}"))["match"]
    # Both play the first legal cell: X takes the anti-diagonal on the 7th ply.
    assert (match["endReason"], match["winnerId"]) == ("three in a row", first)
    assert (match["agent1Status"], match["agent2Status"]) == ("OK", "OK")
    assert match["isRated"] is False and (match["agent1Version"], match["agent2Version"]) == (1, 2)
    assert ok(api.get(f"/api/v1/agents/{first}/rating-history"))["history"] == []


def test_results_stored_before_end_reasons_are_still_accepted(
    api: ApiClient, platform: Platform, owner: User, ratings_target: Any
) -> None:
    first, second = api.create_agent(owner, "old-a")["id"], api.create_agent(owner, "old-b")["id"]
    match_id = insert_match(platform, first, second)
    # A result.json as executors wrote it before issue 14: no outcome_reason, no status per agent.
    stored = {
        "match_id": match_id,
        "status": "SUCCESS",
        "winner_agent_id": second,
        "agent_results": [{"agent_id": first, "score": 0.0}, {"agent_id": second, "score": 1.0}],
        "total_steps": 8,
    }
    payload = finished_payload(uuid.UUID(match_id), "tic-tac-toe", stored)
    assert payload.end_reason is None
    ratings.record_result(platform, payload)
    match = ok(api.get(f"/api/v1/matches/{match_id}"))["match"]
    assert match["status"] == "completed" and match["endReason"] is None
    assert (match["agent1Status"], match["agent2Status"]) == ("OK", "OK")
    (row,) = ok(api.get(f"/api/v1/agents/{second}/rating-history"))["history"]
    assert (row["opponentName"], row["result"]) == ("old-a", "win")


def test_a_failed_match_keeps_its_error_and_gets_an_end_reason(api: ApiClient, platform: Platform, owner: User) -> None:
    first, second = api.create_agent(owner, "f-a")["id"], api.create_agent(owner, "f-b")["id"]
    match_id = insert_match(platform, first, second)
    error = "RuntimeError: the sandbox could not start\nTraceback ..."
    assert match_lifecycle.fail_match(platform, uuid.UUID(match_id), error, announce=False)
    match = ok(api.get(f"/api/v1/matches/{match_id}"))["match"]
    assert match["status"] == "failed" and match["errorMessage"] == error
    assert match["endReason"] == "platform error: RuntimeError: the sandbox could not start"
    assert (match["agent1Status"], match["agent2Status"]) == (None, None)


def test_a_page_of_matches_costs_the_same_queries_whatever_its_size(
    api: ApiClient, platform: Platform, owner: User
) -> None:
    first, second = api.create_agent(owner, "n-a")["id"], api.create_agent(owner, "n-b")["id"]

    def statements_for_a_page() -> int:
        seen: list[str] = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(platform.engine, "before_cursor_execute", listener)
        try:
            ok(api.get(f"/api/v1/matches?agentId={first}"))
        finally:
            event.remove(platform.engine, "before_cursor_execute", listener)
        return len(seen)

    played = versions(platform, first, second, (1, 1))
    booked(platform, first, second, played)
    one = statements_for_a_page()
    for _ in range(9):
        booked(platform, first, second, played)
    assert len(ok(api.get(f"/api/v1/matches?agentId={first}"))["matches"]) == 10
    assert statements_for_a_page() == one
