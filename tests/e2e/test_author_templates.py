"""`rlarena new GAME DIR` as an author runs it: every game's starter passes `rlarena validate`,
uploads with `rlarena submit` to a running local platform and becomes active, and plays sensibly
(it beats the house's random agent on the real game rules)."""

from __future__ import annotations

import importlib.util
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rlarena.environments import registry
from rlarena.house import catalogue
from tests.support.author_cli import rlarena
from tests.support.running_platform import RunningPlatform

GAMES = ("tic-tac-toe", "connect-four", "chess", "pong")
Agent = Callable[[dict[str, Any], dict[str, Any]], int]


def loaded_agent(path: Path) -> Agent:
    spec = importlib.util.spec_from_file_location(f"agent_{abs(hash(str(path)))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    agent: Agent = module.agent
    return agent


@pytest.mark.parametrize("game", GAMES)
def test_a_starter_validates_and_becomes_active_on_the_platform(
    tmp_path: Path, local_platform: RunningPlatform, game: str
) -> None:
    home = tmp_path / "home"
    created = rlarena(home, "new", game, "my-agent")
    assert created.returncode == 0, created.stderr
    folder = home / "my-agent"
    assert sorted(path.name for path in folder.iterdir()) == ["README.md", "main.py"]
    readme = (folder / "README.md").read_text()
    for command in (
        f"rlarena play {game} my-agent house:random",
        f"rlarena validate {game} my-agent",
        "rlarena submit",
    ):
        assert command in readme
    validated = rlarena(home, "validate", game, "my-agent")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert f"PASSED: the platform would accept this agent for {game}" in validated.stdout
    account = {"username": f"starter-{game}", "email": f"starter-{game}@e.io", "password": "long enough"}
    token = local_platform.request("POST", "/api/v1/auth/register", account).body["token"]
    agent = local_platform.request("POST", "/api/v1/agents", {"name": "starter", "environmentId": game}, token)
    agent_id = agent.body["agent"]["id"]
    login = rlarena(home, "login", local_platform.base_url, "--username", account["username"], "--password-stdin",
                    stdin=account["password"] + "\n")  # fmt: skip
    assert login.returncode == 0, login.stderr
    submitted = rlarena(home, "submit", agent_id, "my-agent")
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    assert "version 1 is active" in submitted.stdout
    active = local_platform.request("GET", f"/api/v1/agents/{agent_id}").body["agent"]["activeSubmissionId"]
    assert active is not None


def test_new_refuses_a_folder_that_holds_anything_and_an_unknown_game(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "taken").mkdir(parents=True)
    (home / "taken" / "notes.txt").write_text("mine")
    refused = rlarena(home, "new", "chess", "taken")
    assert refused.returncode == 2
    assert "already exists and is not an empty folder" in refused.stderr
    assert sorted(path.name for path in (home / "taken").iterdir()) == ["notes.txt"]
    unknown = rlarena(home, "new", "checkers", "fresh")
    assert unknown.returncode == 2
    assert "unknown environment 'checkers'" in unknown.stderr
    assert not (home / "fresh").exists()


@pytest.mark.parametrize(
    ("game", "at_least"), [("tic-tac-toe", 0.8), ("connect-four", 0.9), ("chess", 0.7), ("pong", 1.0)]
)
def test_a_starter_beats_the_house_random_agent(tmp_path: Path, game: str, at_least: float) -> None:
    home = tmp_path / "home"
    assert rlarena(home, "new", game, "starter").returncode == 0
    starter = loaded_agent(home / "starter" / "main.py")
    house = loaded_agent(catalogue.lookup(game, "random").folder / "main.py")
    games = 10
    score = 0.0
    for number in range(games):
        random.seed(number)  # both agents draw from `random`: each game is reproducible
        environment = registry.create(game)
        environment.reset(number)
        sides = [starter, house] if number % 2 == 0 else [house, starter]  # sides alternate
        while not environment.done():
            environment.step(
                {
                    player: sides[player](
                        environment.observation(player), {"player": player, "step": environment.steps}
                    )
                    for player in environment.to_act()
                }
            )
        score += environment.outcome().scores[number % 2]
    assert score / games >= at_least
