"""schemathesis against the real local platform: every operation of the merged OpenAPI document,
over real sockets, signed in, with path parameters that name real agents, submissions and matches
as well as unknown ones. Checks: no 5xx, only documented statuses and media types, and every
answer matching its documented schema."""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from rlarena.api_docs import merged_document_bytes
from tests.support.postgres import throwaway_postgres
from tests.support.running_platform import (
    RunningPlatform,
    eventually,
    matches,
    start_platform,
    stop_platform,
    upload,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FIRST_LEGAL = b"def agent(observation, configuration):\n    return observation['legal_actions'][0]\n"
# Examples per operation: enough to reach every documented answer, few enough for ~3 minutes on 2 cores.
MAX_EXAMPLES = 25


@dataclass
class World:
    platform: RunningPlatform
    token: str
    ids: dict[str, str]
    # What each operation answered: (method, path template) -> statuses.
    answers: dict[tuple[str, str], set[int]] = field(default_factory=lambda: defaultdict(set))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with contextlib.ExitStack() as stack:
        database = {} if request.param == "sqlite" else {"DATABASE_URL": stack.enter_context(throwaway_postgres())}
        yield from _world(tmp_path_factory.mktemp(f"schemathesis-{request.param}"), database)


def _world(folder: Path, database: dict[str, str]) -> Iterator[World]:
    running = start_platform(
        folder,
        REPLAY_RATE_LIMIT_PER_MINUTE="100000",
        MANUAL_MATCH_RATE_LIMIT_PER_MINUTE="100000",
        **database,
    )
    try:
        token, agent_id = active(running, "fuzzer")
        _, rival_id = active(running, "rival")
        played = eventually(
            lambda: [m for m in matches(running, agentId=agent_id, status="completed") if m["replayUrl"]],
            60,
            "a rated match with a replay",
        )
        spare = running.request("POST", "/api/v1/agents", {"name": "spare", "environmentId": "pong"}, token)
        submissions = running.request("GET", f"/api/v1/submissions/agent/{agent_id}", token=token)
        ids = {
            "agentId": agent_id,
            "rivalId": rival_id,
            "spareId": spare.body["agent"]["id"],
            "submissionId": submissions.body["submissions"][0]["id"],
            "matchId": played[0]["id"],
            "environmentId": "tic-tac-toe",
        }
        yield World(running, token, ids)
    finally:
        stop_platform(running)


def active(arena: RunningPlatform, name: str) -> tuple[str, str]:
    """A user with an agent whose code is built and active: (token, agent id)."""
    user = arena.request(
        "POST", "/api/v1/auth/register", {"username": name, "email": f"{name}@e.io", "password": "long enough"}
    )
    token = user.body["token"]
    agent = arena.request("POST", "/api/v1/agents", {"name": f"{name}-bot", "environmentId": "tic-tac-toe"}, token)
    agent_id = str(agent.body["agent"]["id"])
    status, body = upload(arena, token, agent_id, "agent.py", FIRST_LEGAL)
    assert status == 201, body
    path = f"/api/v1/submissions/{body['submission']['id']}"
    built = eventually(
        lambda: arena.request("GET", path, token=token).body["submission"]["status"] in ("active", "failed"), 120, path
    )
    assert built and arena.request("GET", path, token=token).body["submission"]["status"] == "active"
    return token, agent_id


# The document as shipped (package data): what the web serves and the client is generated from.
schema = schemathesis.openapi.from_dict(json.loads(merged_document_bytes()))


def with_real_ids(case: Any, ids: dict[str, str]) -> None:
    """Half the generated UUIDs become ids of real rows, chosen by the generated value (so the run
    stays reproducible): the operations then reach their answers about real agents, submissions and
    matches as well as their 404s. A retiring DELETE gets an agent of its own, so that the other
    operations keep a live one."""
    for name, value in list((case.path_parameters or {}).items()):
        if name in ids and _coin(value):
            retiring = case.method.upper() == "DELETE" and name == "agentId"
            case.path_parameters[name] = ids["spareId" if retiring else name]
    query = case.query or {}
    if isinstance(query.get("agentId"), str) and _coin(query["agentId"]):
        query["agentId"] = ids["agentId"]
    body = case.body
    if case.path == "/api/v1/matches" and isinstance(body, dict) and _coin(str(body.get("agent1Id", ""))):
        body.update({"agent1Id": ids["agentId"], "agent2Id": ids["rivalId"]})


def _coin(value: object) -> bool:
    return isinstance(value, str) and bool(value) and value[-1] in "02468ace"


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms_to_the_document(case: Any, world: World) -> None:
    with_real_ids(case, world.ids)
    response = case.call_and_validate(
        base_url=world.platform.base_url,
        headers={"Authorization": f"Bearer {world.token}"},
        checks=CHECKS,
        timeout=30,
    )
    world.answers[(case.operation.method.upper(), case.operation.path)].add(response.status_code)


def test_the_run_reached_real_rows_as_well_as_bad_input(world: World) -> None:
    """Run after the operations (file order): the fuzzing was no wall of 400s and 404s."""
    answered = world.answers
    assert len(answered) == sum(len(item) for item in json.loads(merged_document_bytes())["paths"].values())
    succeeded = sorted(f"{m} {p}" for (m, p), statuses in answered.items() if any(200 <= s < 300 for s in statuses))
    for reached in (
        "GET /api/v1/agents/{agentId}",
        "GET /api/v1/submissions/{submissionId}",
        "GET /api/v1/submissions/{submissionId}/code",
        "GET /api/v1/matches/{matchId}",
        "GET /api/v1/matches/{matchId}/replay",
        "GET /api/v1/matches/{matchId}/logs",
        "GET /api/v1/leaderboard/environment/{environmentId}",
    ):
        assert reached in succeeded, (reached, dict(answered))
    assert any(400 in statuses for statuses in answered.values())
    assert any(404 in statuses for statuses in answered.values())
