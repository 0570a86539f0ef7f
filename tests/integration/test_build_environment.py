"""Code written for another game, on the local builder (real sandbox, real validation match)."""

from __future__ import annotations

import io

import pytest

from rlarena.adapters.db.models import Submission
from rlarena.bootstrap import Platform
from tests.support.api import ApiClient, User
from tests.support.builds import agent_for, build

TIC_TAC_TOE_AGENT = b"def agent(observation, configuration):\n    return 4  # the centre\n"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"SUBMISSIONS_PER_AGENT_PER_DAY": 50, "SUBMISSION_RATE_LIMIT_PER_MINUTE": 1000}


@pytest.fixture
def owner(api: ApiClient) -> User:
    return api.register("wronggame")


def test_code_declaring_another_game_is_refused_at_upload_and_nothing_is_kept(
    platform: Platform, api: ApiClient, owner: User
) -> None:
    chess = agent_for(api, owner, "chess")
    code = b'ENVIRONMENT = "tic-tac-toe"\n' + TIC_TAC_TOE_AGENT
    response = api.post(
        "/api/v1/submissions",
        data={"agentId": str(chess), "file": (io.BytesIO(code), "agent.py")},
        headers=owner.headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 400, response.json
    assert response.json["code"] == "wrong_environment"
    assert response.json["error"].startswith(
        "agent.py declares ENVIRONMENT = 'tic-tac-toe', but this agent plays Chess (chess)"
    )
    with platform.uow() as uow:
        assert uow.session.query(Submission).count() == 0
    assert not list((platform.settings.data_dir).rglob("source.*"))


def test_a_declaration_imported_from_another_file_is_caught_by_the_probe(
    platform: Platform, api: ApiClient, owner: User
) -> None:
    chess = agent_for(api, owner, "chess")
    files = {
        "agent.py": b"from game import ENVIRONMENT\n" + TIC_TAC_TOE_AGENT,
        "game.py": b'ENVIRONMENT = "tic-tac-toe"\n',
    }

    failed = build(platform, owner, chess, files)

    assert failed.status == "failed"
    assert failed.error_message is not None and "declares ENVIRONMENT = 'tic-tac-toe'" in failed.error_message
    assert failed.build_log is not None and "loading the agent in the sandbox" in failed.build_log


def test_the_right_declaration_builds(platform: Platform, api: ApiClient, owner: User) -> None:
    pong = agent_for(api, owner, "pong")
    code = b'ENVIRONMENT = "Pong"\n\ndef agent(observation, configuration):\n    return 1\n'

    assert build(platform, owner, pong, {"agent.py": code}).status == "active"


def test_an_illegal_action_in_the_validation_match_names_the_games_action_format(
    platform: Platform, api: ApiClient, owner: User
) -> None:
    chess = agent_for(api, owner, "chess")

    failed = build(platform, owner, chess, {"agent.py": TIC_TAC_TOE_AGENT})  # undeclared: the match shows it

    assert failed.status == "failed"
    message = failed.error_message or ""
    assert message.startswith("the validation match failed (INVALID)")
    assert "Chess (chess) expects actions 0-4671" in message
    assert "Was this code written for another game?" in message


def test_a_crash_is_not_dressed_up_as_a_wrong_action(platform: Platform, api: ApiClient, owner: User) -> None:
    pong = agent_for(api, owner, "pong")
    code = b"def agent(observation, configuration):\n    return observation['board'][0]\n"

    failed = build(platform, owner, pong, {"agent.py": code})

    assert failed.status == "failed"
    assert "validation match failed (ERROR)" in (failed.error_message or "")
    assert "expects actions" not in (failed.error_message or "")
